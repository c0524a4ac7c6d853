# Scenario pvh: a PVH Linux domU (HAP; tsc_mode="native") boots to its
# marker and `xl list -l` shows it as a PVH guest while it runs.
lab_guest pvh1 type=pvh run=/bin/sleep args=600
lab_guest_up pvh1 120
xl list -l pvh1 >xl-list-long-pvh1.json 2>&1 || lab_fail "xl list does not show pvh1"
grep -q '"type": "pvh"' xl-list-long-pvh1.json || lab_fail "xl does not report pvh1 as PVH"
grep -q 'Booting kernel on Xen PVH' "$CONSOLE_DIR/guest-pvh1.log" \
    || lab_fail "pvh1 did not boot as a PVH guest"
lab_destroy pvh1
