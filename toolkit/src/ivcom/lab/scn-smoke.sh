# Scenario smoke: dom0 is up; record what Xen says about itself.
xl info >xl-info.txt || lab_fail "xl info failed"
xl list >xl-list.txt || lab_fail "xl list failed"
grep -q '^xen_major *: *4$' xl-info.txt || lab_fail "not Xen 4.x"
grep -q '^xen_minor *: *17$' xl-info.txt || lab_fail "not Xen 4.17"
ls /dev/xen >dev-xen.txt
