"""ZoeRunner's config formats its text (saved in every checkpoint) once per
content: same text as MMEngine's, formatted again after a change."""
import copy
import pickle

from mmengine.config import Config
from mmengine.config import config as mmengine_config

from mmzoe.engine.runner import ZoeRunner
from mmzoe.engine.runner.text_once_config import TextOnceConfig

from zoe_testing import CONFIG


def test_text_formatted_once_per_content(monkeypatch):
    calls = []
    real = mmengine_config.FormatCode
    monkeypatch.setattr(mmengine_config, 'FormatCode',
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    plain = Config.fromfile(CONFIG)
    expected = plain.pretty_text
    assert len(calls) == 1
    cfg = TextOnceConfig.from_config(copy.deepcopy(plain))
    assert [cfg.pretty_text for _ in range(5)] == [expected] * 5
    assert len(calls) == 2  # once for 5 calls
    cfg.train_cfg.max_iters = 7  # a changed content is formatted again
    assert cfg.pretty_text == Config.pretty_text.fget(cfg) != expected
    assert 'max_iters=7' in cfg.pretty_text
    # copies and pickles keep the class and the right text
    for other in (copy.deepcopy(cfg), pickle.loads(pickle.dumps(cfg))):
        assert type(other) is TextOnceConfig
        assert other.pretty_text == cfg.pretty_text
    shallow = copy.copy(cfg)
    shallow.train_cfg = dict(max_iters=3)
    assert 'max_iters=3' in shallow.pretty_text
    assert 'max_iters=7' in cfg.pretty_text
    assert TextOnceConfig.from_config(cfg) is cfg


def test_zoe_runner_keeps_its_config_as_text_once():
    runner = ZoeRunner.__new__(ZoeRunner)  # the attribute only
    plain = Config.fromfile(CONFIG)
    runner.cfg = plain
    assert type(runner.cfg) is TextOnceConfig
    assert runner.cfg.pretty_text == plain.pretty_text
    assert runner.cfg.filename == plain.filename
