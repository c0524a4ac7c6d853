# Scenario vecstate: a process's vector registers survive context
# switches, while a PV domU competes for the CPUs (Xen switches vCPUs of
# different domains, and Linux switches its processes).  Two checkers in
# dom0 yield to each other for 10 s; each prints its one line.
lab_guest burn run=/bin/dd args=if=/dev/zero,of=/dev/null
lab-vecstate 10 >vecstate-1.txt 2>&1 &
v1=$!
lab-vecstate 10 >vecstate-2.txt 2>&1
wait $v1
lab_destroy burn
