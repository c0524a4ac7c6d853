/* SPDX-License-Identifier: MIT */
/* Error names for the errno values the guest and libivcom use. */
#include <errno.h>
#include <string.h>

const char *strerror_name(int err)
{
    switch ( err < 0 ? -err : err )
    {
    case 0:            return "Success";
    case EPERM:        return "Operation not permitted";
    case ENOENT:       return "No such file or directory";
    case ESRCH:        return "No such process";
    case EINTR:        return "Interrupted system call";
    case EIO:          return "Input/output error";
    case E2BIG:        return "Argument list too long";
    case EBADF:        return "Bad file descriptor";
    case EAGAIN:       return "Resource temporarily unavailable";
    case ENOMEM:       return "Cannot allocate memory";
    case EACCES:       return "Permission denied";
    case EFAULT:       return "Bad address";
    case EBUSY:        return "Device or resource busy";
    case EEXIST:       return "File exists";
    case ENODEV:       return "No such device";
    case EISDIR:       return "Is a directory";
    case EINVAL:       return "Invalid argument";
    case ENOSPC:       return "No space left on device";
    case EROFS:        return "Read-only file system";
    case EPIPE:        return "Broken pipe";
    case ERANGE:       return "Numerical result out of range";
    case ENAMETOOLONG: return "File name too long";
    case ENOSYS:       return "Function not implemented";
    case ENOTEMPTY:    return "Directory not empty";
    case ENODATA:      return "No data available";
    case EPROTO:       return "Protocol error";
    case EBADMSG:      return "Bad message";
    case EOVERFLOW:    return "Value too large for defined data type";
    case EMSGSIZE:     return "Message too long";
    case EOPNOTSUPP:   return "Operation not supported";
    case EISCONN:      return "Transport endpoint is already connected";
    case ENOTCONN:     return "Transport endpoint is not connected";
    case EPROTONOSUPPORT: return "Protocol not supported";
    case ECONNRESET:   return "Connection reset by peer";
    case ENXIO:        return "No such device or address";
    case ECANCELED:    return "Operation canceled";
    case EINPROGRESS:  return "Operation now in progress";
    case ETIMEDOUT:    return "Connection timed out";
    case ECONNREFUSED: return "Connection refused";
    case EALREADY:     return "Operation already in progress";
    default:           return "Unknown error";
    }
}

char *strerror(int err)
{
    return (char *)strerror_name(err);
}
