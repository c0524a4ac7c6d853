# Scenario pv: a PV Linux domU created with `xl create` prints its marker
# and `xl list` shows it while it runs.
lab_guest pv1 run=/bin/sleep args=600
lab_guest_up pv1 120
xl list pv1 >xl-list-pv1.txt 2>&1 || lab_fail "xl list does not show pv1"
xl list >xl-list-all.txt 2>&1
lab_domid pv1 >domid
lab_destroy pv1
