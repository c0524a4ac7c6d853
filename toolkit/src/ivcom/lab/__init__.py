"""The Xen lab: real Xen 4.17 booted under QEMU TCG, driven from Python.

    from ivcom.lab.image import build_image, Payload
    from ivcom.lab.runner import LabRunner, Scenario
    from ivcom.lab.tools import standard_payload

    image = build_image(standard_payload())          # cached by input hash
    res = LabRunner(image).boot([Scenario.builtin("vchan")])
    res.scenarios["vchan"].dir                        # files the scenario wrote

A scenario is a busybox-sh script run in dom0 with lib.sh's helpers
(lab_guest, lab_guest_up, lab_wait_result, lab_fail, ...) in its results
directory $OUT, which reaches the host over 9p.  See lib.sh.
CLI: `ivcom lab build | boot | run SCENARIO... | shell-log | list`.
"""
