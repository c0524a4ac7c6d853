/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "internal.h"

IVCOM_EXPORT const char *ivcom_strerror(int err)
{
    switch (err < 0 ? -err : err) {
    case 0:          return "success";
    case EPROTO:     return "peer broke the protocol (channel broken)";
    case EPIPE:      return "peer closed the channel or died";
    case EAGAIN:     return "would block";
    case ETIMEDOUT:  return "timed out";
    case EMSGSIZE:   return "message larger than the ring allows";
    case EACCES:
    case EPERM:      return "permission denied by the peer's grants or XenStore";
    case ENOENT:     return "no such channel offer";
    case EINVAL:     return "invalid argument";
    case ENOMEM:     return "out of memory";
    case EOPNOTSUPP: return "operation not supported by this platform";
    case ENODEV:     return "platform not available";
    case EINTR:      return "interrupted";
    case EBUSY:      return "channel busy";
    case ENOTCONN:   return "channel not connected";
    default:         return strerror(err < 0 ? -err : err);
    }
}
