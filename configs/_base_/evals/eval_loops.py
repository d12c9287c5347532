# The test and validation loops of the evaluation configs (tools/test.py runs
# the test loop; the validation loop is the same evaluation).
test_cfg = dict(type='TestLoop')
val_cfg = dict(type='ValLoop')
