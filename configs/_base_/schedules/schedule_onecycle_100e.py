# The source report's schedule: upstream ZoeDepth's one-cycle recipe
# (schedule_onecycle_5e.py, docs/upstream_facts.md) stretched to 100 epochs.
_base_ = ['./schedule_onecycle_5e.py']
max_epochs = 100
param_scheduler = [
    dict(_base_.param_scheduler[0], end=max_epochs),
    dict(_base_.param_scheduler[1], end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs)
