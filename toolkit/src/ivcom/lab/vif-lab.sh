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
        # An HVM guest's emulated NIC is qemu's tap <vif>-emu (created before
        # the vif's hotplug runs); it joins the bridge with the vif.
        for d in "$dev" "$dev-emu"; do
            [ "$d" = "$dev" ] || [ -e "/sys/class/net/$d" ] || continue
            ip link set "$d" master "$bridge" || brctl addif "$bridge" "$d" || exit 1
            ip link set "$d" up || exit 1
            [ -e "/sys/class/net/$bridge/brif/$d" ] && echo "vif-lab: $d is a port of $bridge"
        done
        xenstore-write "$XENBUS_PATH/hotplug-status" connected
        ;;
    offline|remove)
        for d in "$dev" "$dev-emu"; do
            ip link set "$d" down 2>/dev/null
            brctl delif "$bridge" "$d" 2>/dev/null
        done
        xenstore-rm "$XENBUS_PATH/hotplug-status" 2>/dev/null
        ;;
esac
exit 0
