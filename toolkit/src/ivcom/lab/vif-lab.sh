#!/bin/sh
# Hotplug script for lab vifs: enslave the backend interface to the bridge
# named in the backend's xenstore directory (default xenbr0) and report
# hotplug-status.  libxl runs it as `vif-lab.sh online|offline|add|remove`
# with XENBUS_PATH=backend/vif/<domid>/<devid> (and `vif` in newer libxl).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export LD_LIBRARY_PATH=/lib/x86_64-linux-gnu
exec >>/var/log/xen/vif-lab.log 2>&1

action=$1
domid=$(echo "$XENBUS_PATH" | cut -d/ -f3)
devid=$(echo "$XENBUS_PATH" | cut -d/ -f4)
dev=${vif:-vif$domid.$devid}
bridge=$(xenstore-read "$XENBUS_PATH/bridge" 2>/dev/null)
bridge=${bridge:-xenbr0}
echo "vif-lab: $action dev=$dev bridge=$bridge path=$XENBUS_PATH"

case $action in
    online|add)
        ip link set "$dev" master "$bridge" || brctl addif "$bridge" "$dev" || exit 1
        ip link set "$dev" up || exit 1
        [ -e "/sys/class/net/$bridge/brif/$dev" ] && echo "vif-lab: $dev is a port of $bridge"
        xenstore-write "$XENBUS_PATH/hotplug-status" connected
        ;;
    offline|remove)
        ip link set "$dev" down 2>/dev/null
        brctl delif "$bridge" "$dev" 2>/dev/null
        xenstore-rm "$XENBUS_PATH/hotplug-status" 2>/dev/null
        ;;
esac
exit 0
