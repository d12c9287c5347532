"""Every shell command of README.md and docs/*.md runs as written.

The commands are parsed from the Markdown at collection time (fenced
``bash``/``sh``/``shell``/``console`` blocks, with ``\\`` continuations,
``;``/``&&`` chains and ``NAME=value`` variables, kept from block to block
of a file as in one shell session, plus inline code spans that start with
``python``/``bash``): a command added to the docs is a new test case here,
nothing is copied into this file. Commands that cannot run here are skipped
with their reason (``skip_reason``: environment
set-up with venv/pip, the whole test suite, GPU, several processes, usage
synopses with placeholders). An unknown command form fails, so it gets a
rule instead of being ignored.

How the others run:

- in a scratch checkout (a temporary folder): ``tools/`` and ``demo/`` are
  links to this repository, ``configs/`` links every config file, so the
  commands' relative paths work and their outputs (``work_dirs/``,
  ``checkpoints/``, ``results/``) stay out of the repository;
- the data and weights a command names are tiny stand-ins at exactly the
  path it names: ``data/nyu/nyu_depth_v2_labeled.mat`` is a real-layout
  1449-frame file (480x640, only the frames the commands read are written,
  the rest stay unwritten HDF5 chunks), ``data/ibims1/ibims1_core_raw`` two
  480x640 iBims-1 frames, ``dpt_swin2_base_384.pt`` / ``zoedepth_swin2b.pt``
  random weights of a tiny model in the upstream MiDaS / ZoeDepth key
  layouts, ``work_dirs/.../best_abs_rel_epoch_N.pth`` (``...`` is a real
  folder here) and ``work_dirs/demo/train/iter_1200.pth`` random weights of
  the models the commands' configs build;
- **tiny configs**: the README's SwinV2-B configs would take minutes per
  command on two CPU cores (a 105 M-parameter model, 1.4 s per forward,
  4.5 s per training step, 654 test images), so at their paths the scratch checkout holds configs that
  inherit the real file (absolute ``_base_``) and replace only the model by
  the tiny SwinV2 of ``tests/configs`` (and use a few frames, one epoch,
  no loader workers): ``TINY_CONFIGS``. Everything else of the real config
  (dataset, splits, BTS mode, evaluator, loops, runtime) is what runs;
- **changed arguments**: ``change_args`` (the demo gets a small
  ``--num-frames``/``--iters``, one renderer process and its tiny
  ``--config``; ``benchmark.py`` one warm-up and two timed runs and
  ``--no-probe``; ``/tmp/`` paths move into the scratch folder);
- each command runs in a fresh process forked from a small server that has
  imported only third-party packages (torch, timm, mmengine, cv2, ...):
  ``mmzoe`` and the configs' ``custom_imports`` are imported by the command
  itself, as for a user. A fresh interpreter per command would spend ~7 s of
  CPU on imports each (~25 commands). Commands get ``OMP_NUM_THREADS=1``
  (those with ``--threads`` set their own) and sleeping idle OpenMP threads.
"""
import glob
import os
import os.path as osp
import re
import shlex

import pytest

from zoe_testing import REPO, ForkServer

DOC_FILES = ['README.md'] + sorted(
    osp.relpath(p, REPO) for p in glob.glob(osp.join(REPO, 'docs', '*.md')))
SHELL_LANGS = ('bash', 'sh', 'shell', 'console')
INTERPRETERS = ('python', 'python3', '.venv/bin/python')
TIMEOUT_S = 600  # per command; generous for a loaded shared machine

# --------------------------------------------------------------- parsing
_FENCE = re.compile(r'^(\s*)```\s*([\w+-]*)\s*$')
_INLINE = re.compile(r'`([^`\n]*(?:\n[^`\n]*)?)`')
_ASSIGN = re.compile(r'^([A-Za-z_][A-Za-z0-9_]*)=(.*)$', re.S)
_VAR = re.compile(r'\$(\w+)|\$\{(\w+)\}')
_SYNOPSIS = re.compile(r'(^|\s)\[[-A-Za-z]')


def _logical_lines(lines):
    """Join ``\\`` continuations; yield (first line number, text)."""
    buf, start = '', None
    for number, line in lines:
        if start is None:
            start = number
        if line.rstrip().endswith('\\'):
            buf += line.rstrip()[:-1] + ' '
            continue
        yield start, buf + line
        buf, start = '', None
    if buf:
        yield start, buf


def _statements(text):
    """Split one logical shell line into statements (token lists)."""
    lex = shlex.shlex(text, posix=True, punctuation_chars=';&|')
    lex.whitespace_split = True
    lex.commenters = '#'
    current, out = [], []
    for token in lex:
        if token in (';', '&&', '||', '&', '|'):
            if current:
                out.append(current)
            current = []
        else:
            current.append(token)
    if current:
        out.append(current)
    return out


def _expand(tokens, variables):
    """Expand ``$NAME`` with the block's variables (unquoted: word split)."""
    out = []
    for token in tokens:
        m = _VAR.fullmatch(token)
        if m:
            name = m.group(1) or m.group(2)
            if name not in variables:   # defined in prose: skip_reason
                out.append(token)
            else:
                out.extend(shlex.split(variables[name]))
        elif '$' in token:
            out.append(_VAR.sub(
                lambda m: variables.get(m.group(1) or m.group(2), m.group(0)),
                token))
        else:
            out.append(token)
    return out


def _block_commands(lines, where, variables):
    out = []
    for number, text in _logical_lines(lines):
        if _SYNOPSIS.search(text):   # usage line: '|' and '[' are not shell
            words = text.split('#')[0].split()
            if words and words[0].startswith('[') and out:
                out[-1]['argv'] += words   # a synopsis continued
                out[-1]['source'] += ' ' + text.strip()
            elif words:
                out.append(dict(where=f'{where}:{number}',
                                source=text.strip(), argv=words))
            continue
        for tokens in _statements(text):
            if len(tokens) == 1 and _ASSIGN.match(tokens[0]):
                name, value = _ASSIGN.match(tokens[0]).groups()
                variables[name] = value
                continue
            out.append(dict(where=f'{where}:{number}', source=text.strip(),
                            argv=_expand(tokens, variables)))
    return out


def collect_commands():
    """Every shell command of the documentation, in document order."""
    commands = []
    for rel in DOC_FILES:
        with open(osp.join(REPO, rel), encoding='utf-8') as f:
            lines = f.read().split('\n')
        # variables live on from block to block of a file, as in one shell
        block, lang, prose, variables = None, None, [], {}
        for number, line in enumerate(lines, 1):
            m = _FENCE.match(line)
            if m and block is None:
                block, lang, indent = [], m.group(2).lower(), len(m.group(1))
                continue
            if m and block is not None:
                if lang in SHELL_LANGS:
                    commands += _block_commands(block, rel, variables)
                block = None
                continue
            if block is not None:
                block.append((number, line[indent:] if line[:indent].strip()
                              == '' else line.lstrip()))
            else:
                prose.append((number, line))
        text = '\n'.join(line for _, line in prose)
        numbers = [n for n, _ in prose]
        for m in _INLINE.finditer(text):
            span = ' '.join(m.group(1).split())
            if span.split(' ', 1)[0] in INTERPRETERS + ('bash', ):
                number = numbers[text.count('\n', 0, m.start())]
                commands += [dict(where=f'{rel}:{number}', source=span,
                                  argv=tokens)
                             for tokens in _statements(span)]
    return commands


# ---------------------------------------------------------- classification
_PLACEHOLDER = re.compile(r'^[A-Z][A-Z0-9_]{2,}$')


def _workers(argv):
    for i, token in enumerate(argv):
        m = re.search(r'num_workers=(\d+)$', token)
        if m and int(m.group(1)) > 0:
            return int(m.group(1))
        if token == '--workers' and i + 1 < len(argv) and \
                int(argv[i + 1]) > 1:
            return int(argv[i + 1])
    return 0


def skip_reason(argv):
    """Why a command cannot run here (None: it runs)."""
    text = ' '.join(argv)
    placeholders = [t for t in argv if _PLACEHOLDER.match(t)]
    if any(t.startswith('[') for t in argv) or placeholders:
        return ('usage synopsis with placeholders '
                f'({", ".join(placeholders) or "[optional] groups"}), not a '
                'runnable command; its concrete forms are run')
    if argv[:3] == ['python3', '-m', 'venv'] or \
            (argv[0].endswith('pip') and 'install' in argv):
        return ('environment set-up (venv / pip install): needs the package '
                'index; this test runs in the installed environment')
    undefined = [t for t in argv if _VAR.search(t)]
    if undefined:
        return ('uses a shell variable that the text defines in prose '
                f'({undefined[0]}), not a block of this file')
    if any(t.startswith('configs/mixing/') for t in argv) and \
            any(t.endswith('train.py') for t in argv):
        return ('full training of a mixing recipe; its pipeline and one '
                'training step run in tests/test_configs/test_mixing_recipes.py')
    if any(t.startswith('camera:') for t in argv):
        return 'needs a camera (the video path runs on a file in tests/test_tools/test_infer_video.py)'
    if any(t.endswith('kill_resume_check.py') for t in argv):
        return ('20 killed and resumed training runs (many minutes); the same '
                'kill/resume cases run in tests/test_engine/test_checkpoint_resume.py')
    if 'swin2b_perturbed.pth' in argv:
        return ('the measured full-size SwinV2-B export (minutes, a 400 MB '
                'graph); the tool runs here in the README\'s export command '
                'and in tests/test_apis/test_deploy_onnx.py')
    if 'nohup' in argv:
        return ('a long background experiment (nohup; hours of CPU), its '
                'tool is tested on a tiny config in tests/test_tools/test_ablation_tool.py')
    if argv[1:3] == ['-m', 'pytest']:
        return 'runs the whole test suite, which contains this test'
    if argv[0] == 'bash' and re.search(r'dist_(train|test)\.sh', text):
        return 'several processes (torchrun, one per GPU)'
    if argv[0] == 'bash' and re.search(r'slurm_(train|test)\.sh', text):
        return 'needs a Slurm cluster (srun) and several processes'
    if re.search(r'--device(=| )cuda', text):
        return 'needs a CUDA GPU'
    if _workers(argv):
        return f'starts {_workers(argv)} worker processes'
    return None


# ------------------------------------------------------- stand-in configs
TINY_MODEL = 'configs/_base_/models/zoedepth_tiny.py'
TINY_SEG = 'tests/configs/segdistill_tiny.py'
FEW = ("dict(num_workers=0, persistent_workers=False, "
       "dataset=dict(indices={n}))")
#: scratch path -> (real config it inherits, model config, extra lines).
#: The scratch checkout holds, at that path, ``_base_ = [<real file>]`` +
#: the tiny model (``_delete_``: nothing of the SwinV2-B model is kept but
#: ``core_checkpoint`` and ``test_cfg``) + the extra lines. The first four
#: stand at the paths the commands name; the demo's is its ``--config``.
TINY_CONFIGS = {
    'configs/zoe_segdistill_nyu.py': (None, TINY_SEG, [
        'train_cfg = dict(max_epochs=1)',
        'train_dataloader = ' + FEW.format(n=4),
        'val_dataloader = ' + FEW.format(n=2),
        'test_dataloader = val_dataloader',
    ]),
    'configs/zoedepth/zoedepth_swin2b_eval_nyu-official654.py': (
        None, TINY_MODEL, [
            'test_dataloader = ' + FEW.format(n=4),  # first 4 of the 654
        ]),
    'configs/zoedepth/zoedepth_swin2b_eval_ibims1.py': (None, TINY_MODEL, [
        'test_dataloader = ' + FEW.format(n=2),
    ]),
    # the benchmark commands' model config: the tiny model itself
    'configs/_base_/models/zoedepth_swin2b.py': (None, TINY_MODEL, None),
    # the demo's own config with the tiny SwinV2 + U-Net branch (64x64
    # input), batch 2, instead of the ResNet-18 at 128x160, batch 8
    'configs/demo/tiny_stand-in.py': (
        'configs/demo/zoedepth_resnet18s-segdistill_1xb8-1200it_synthetic-'
        'nyu-128.py', TINY_SEG, ['train_dataloader = dict(batch_size=2)']),
}
DEMO_TINY = 'configs/demo/tiny_stand-in.py'
#: argument changes: (match on the command, tokens appended / replaced)
DEMO_ARGS = ['--num-frames', '12', '--views-per-scene', '3', '--val-rooms',
             '2', '--iters', '12', '--workers', '1', '--min-delta1', '0',
             '--config', DEMO_TINY]


#: benchmark.py: fewer timed runs, and no machine probe (a 2048x2048 matmul
#: and copy loop before and after, ~5 s per command here; its numbers only
#: annotate the timings)
BENCH_COUNTS = {'--warmup': '1', '--repeats': '2'}


def change_args(argv, scratch):
    """The command's argv with the argument changes applied."""
    argv = [t.replace('/tmp/', osp.join(scratch, 'tmp') + '/')
            for t in argv]
    if argv[1:2] == ['tools/demo.py']:
        argv = argv + DEMO_ARGS   # 12 frames, 12 iterations, one renderer
    if argv[1:2] == ['tools/analysis_tools/benchmark.py']:
        argv = [BENCH_COUNTS.get(argv[i - 1], t) if i > 2 else t
                for i, t in enumerate(argv)]
        argv.insert(2, '--no-probe')   # before --cfg-options' values
    return argv



# -------------------------------------------------------------- fixtures
def _model_dict(path):
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, path))
    return cfg.model.to_dict()


def _write_tiny_configs(scratch):
    from mmengine.config import Config
    for rel, (base, model_cfg, extra) in TINY_CONFIGS.items():
        base = base or rel
        dst = osp.join(scratch, rel)
        if osp.lexists(dst):
            os.remove(dst)
        if extra is None:
            lines = [f'_base_ = [{osp.join(REPO, model_cfg)!r}]']
        else:
            model = _model_dict(model_cfg)
            real = Config.fromfile(osp.join(REPO, base))
            for key in ('core_checkpoint', 'test_cfg'):
                if key in real.model:
                    value = real.model[key]
                    model[key] = value.to_dict() if hasattr(
                        value, 'to_dict') else value
            lines = [f'_base_ = [{osp.join(REPO, base)!r}]',
                     '# tiny stand-in model (tests/test_docs/test_readme_commands.py)',
                     f'model = dict(_delete_=True, **{model!r})'] + extra
        with open(dst, 'w', encoding='utf-8') as f:
            f.write('\n'.join(lines) + '\n')


def _mirror_configs(scratch):
    for path in glob.glob(osp.join(REPO, 'configs', '**', '*'),
                          recursive=True):
        rel = osp.relpath(path, REPO)
        dst = osp.join(scratch, rel)
        if osp.isdir(path):
            os.makedirs(dst, exist_ok=True)
        else:
            os.symlink(path, dst)


def _frames_needed():
    from mmzoe.datasets.nyu_labeled import random_split_indices
    from mmzoe.datasets.utils import nyu_official_split
    need = set(nyu_official_split('test')[:4])
    for num_val in (291, None):
        need |= set(random_split_indices(1449, 'train', 43,
                                         num_val=num_val)[:4])
        need |= set(random_split_indices(1449, 'val', 43,
                                         num_val=num_val)[:2])
    return sorted(need)


def _write_nyu(path):
    import numpy as np

    from mmzoe.datasets.utils import write_nyu_labeled_mat
    os.makedirs(osp.dirname(path))
    frames = _frames_needed()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:480, 0:640].astype(np.float32)
    images, depths, labels = [], [], []
    for k in range(len(frames)):
        depth = 1.0 + 3.0 * (xx / 640 + yy / 480) / 2 + 0.1 * k
        images.append((255 * np.stack([xx / 640, yy / 480, depth / 5.0], -1)
                       ).astype(np.uint8))
        raw = depth.copy()
        raw[rng.random(raw.shape) < 0.05] = 0
        depths.append(depth)
        labels.append(rng.integers(0, 41, (480, 640)).astype(np.uint16))
    write_nyu_labeled_mat(path, images, depths, labels, raw_depths=depths,
                          num_images=1449, indices=frames,
                          scene_types=['kitchen'] * 1449)


def _write_ibims(root):
    import cv2
    import numpy as np
    names = ['corridor_01', 'office_02']
    for sub in ('rgb', 'depth', 'mask_invalid', 'mask_transp'):
        os.makedirs(osp.join(root, sub))
    rng = np.random.default_rng(1)
    for name in names:
        cv2.imwrite(osp.join(root, 'rgb', f'{name}.png'),
                    rng.integers(0, 256, (480, 640, 3), dtype=np.uint8))
        cv2.imwrite(osp.join(root, 'depth', f'{name}.png'),
                    rng.integers(2000, 60000, (480, 640), dtype=np.uint16))
        cv2.imwrite(osp.join(root, 'mask_invalid', f'{name}.png'),
                    np.ones((480, 640), np.uint8))
        cv2.imwrite(osp.join(root, 'mask_transp', f'{name}.png'),
                    np.ones((480, 640), np.uint8))
    with open(osp.join(root, 'imagelist.txt'), 'w') as f:
        f.write('\n'.join(names) + '\n')


def _write_weights(scratch):
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmzoe.registry import MODELS
    from zoe_testing import to_upstream_midas  # reverse key mapping
    init_default_scope('mmzoe')  # nested builds (data preprocessor) find ours
    torch.manual_seed(0)
    seg = MODELS.build(Config.fromfile(osp.join(REPO, TINY_SEG)).model)
    upstream = to_upstream_midas(seg)
    torch.save(upstream, osp.join(scratch, 'dpt_swin2_base_384.pt'))
    zoe = {'core.core.' + k: v for k, v in upstream.items()}
    zoe.update({k[len('decode_head.'):]: v
                for k, v in seg.state_dict().items()
                if k.startswith('decode_head.')})
    torch.save({'model': zoe}, osp.join(scratch, 'zoedepth_swin2b.pt'))
    # Depth Anything: the tiny upstream-layout test vector's weights
    da = torch.load(osp.join(REPO, 'tests', 'data',
                             'depth_anything_v2_tiny.pt'),
                    weights_only=True)['state_dict']
    torch.save(da, osp.join(scratch, 'depth_anything_v2_vits.pth'))
    da_metric = {'core.core.' + k: v for k, v in da.items()}
    da_metric.update({k: v for k, v in zoe.items()
                      if not k.startswith('core.core.')})
    torch.save({'model': da_metric},
               osp.join(scratch, 'depth_anything_metric_depth_indoor.pt'))
    # what train.py writes: the tiny segdistill model (+ meta)
    ckpt = dict(state_dict=seg.state_dict(), meta=dict(epoch=1, iter=2))
    core = {k: v for k, v in seg.state_dict().items()
            if k.startswith(('backbone.', 'neck.'))}
    for rel, obj in (
            ('work_dirs/.../best_abs_rel_epoch_N.pth', ckpt),
            ('tmp/wd/best_abs_rel_epoch_1.pth', ckpt),
            ('checkpoints/midas_dpt_swin2_base_384-mmzoe.pth',
             dict(state_dict=core, meta=dict(converter='midas_to_mmzoe')))):
        os.makedirs(osp.dirname(osp.join(scratch, rel)), exist_ok=True)
        torch.save(obj, osp.join(scratch, rel))
    demo_cfg = glob.glob(osp.join(REPO, 'configs', 'demo', '*.py'))[0]
    demo = MODELS.build(Config.fromfile(demo_cfg).model)
    os.makedirs(osp.join(scratch, 'work_dirs', 'demo', 'train'))
    torch.save(dict(state_dict=demo.state_dict(), meta=dict(iter=1200)),
               osp.join(scratch, 'work_dirs', 'demo', 'train',
                        'iter_1200.pth'))


@pytest.fixture(scope='module')
def scratch(tmp_path_factory):
    """The scratch checkout with every stand-in, and the fork server."""
    import mmzoe  # noqa: F401
    root = str(tmp_path_factory.mktemp('readme_checkout'))
    for name in ('tools', 'demo'):
        os.symlink(osp.join(REPO, name), osp.join(root, name))
    _mirror_configs(root)
    _write_tiny_configs(root)
    _write_nyu(osp.join(root, 'data', 'nyu', 'nyu_depth_v2_labeled.mat'))
    os.makedirs(osp.join(root, 'tmp', 'syn'))
    os.symlink(osp.join(root, 'data', 'nyu', 'nyu_depth_v2_labeled.mat'),
               osp.join(root, 'tmp', 'syn', 'nyu_depth_v2_labeled.mat'))
    _write_ibims(osp.join(root, 'data', 'ibims1', 'ibims1_core_raw'))
    _write_weights(root)
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [REPO] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep)
                  if p])
    # one thread unless a command asks for more; idle OpenMP threads sleep
    # instead of spinning (the machine is shared)
    env.update(MPLBACKEND='Agg', OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
               OMP_WAIT_POLICY='PASSIVE')
    server = ForkServer(env)
    yield dict(root=root, env=env, server=server, logs=[])
    server.close()
    total = sum(c for _, c in server.cpu)
    print(f'\nREADME commands: {len(server.cpu)} run, {total:.1f} CPU s: ' +
          ', '.join(f'{osp.basename(n)} {c:.1f}' for n, c in server.cpu))


def run_command(scratch, argv, name):
    """Run ``argv`` (``python SCRIPT ...``) in the scratch checkout; return
    (exit code, output)."""
    if argv[0] not in INTERPRETERS or argv[1].startswith('-'):
        raise AssertionError(f'no rule to run {argv[:2]}: add one to '
                             'skip_reason() or run_command()')
    log = osp.join(scratch['root'], f'log_{len(scratch["logs"]):02d}_'
                   f'{re.sub(r"[^A-Za-z0-9]+", "_", name)[:40]}.txt')
    scratch['logs'].append(log)
    rc = scratch['server'].run(argv[1:], scratch['root'], scratch['env'],
                               log, log, TIMEOUT_S)['rc']
    with open(log, encoding='utf-8', errors='replace') as f:
        return rc, f.read()


COMMANDS = collect_commands()


def _case_id(cmd):
    files = [osp.basename(t) for t in cmd['argv']
             if t.endswith(('.py', '.sh'))][:2] or cmd['argv'][:1]
    return f'{cmd["where"]}:' + ':'.join(files)


def test_commands_were_found():
    """The parser sees the commands the README is built around."""
    texts = [' '.join(c['argv']) for c in COMMANDS]
    assert any('zoedepth_swin2b_eval_nyu-official654.py' in t and
               t.startswith('python tools/test.py') for t in texts)
    assert any(t.startswith('.venv/bin/python tools/demo.py') for t in texts)
    assert any('nyu_labeled_info.py' in t for t in texts)  # inline span
    assert len(COMMANDS) >= 30
    cfg = [c for c in COMMANDS if 'benchmark_table.py' in ' '.join(
        c['argv'])]
    assert cfg and all('--device' in c['argv'] for c in cfg)  # $B $C


@pytest.mark.parametrize('cmd', COMMANDS, ids=[_case_id(c) for c in COMMANDS])
def test_readme_command(scratch, cmd):
    reason = skip_reason(cmd['argv'])
    if reason:
        pytest.skip(f'{cmd["where"]}: {reason}')
    argv = change_args(cmd['argv'], scratch['root'])
    rc, out = run_command(scratch, argv, _case_id(cmd))
    assert rc == 0, (f'{cmd["where"]}: `{cmd["source"]}` exited with {rc}'
                     f' (run as {argv}):\n{out[-4000:]}')
    assert 'Traceback (most recent call last)' not in out, out[-4000:]


MMSEG_TEST = None
try:
    import importlib.util
    _spec = importlib.util.find_spec('mmseg')
    if _spec is not None:
        MMSEG_TEST = osp.join(osp.dirname(_spec.origin), '.mim', 'tools',
                              'test.py')
except ImportError:  # pragma: no cover
    pass


@pytest.mark.parametrize('config', [
    'configs/zoedepth/zoedepth_swin2b_eval_nyu-official654.py',
    'configs/zoedepth/zoedepth_swin2b_eval_ibims1.py'
])
def test_eval_configs_with_mmsegs_own_test_py(scratch, config):
    """MMSegmentation's tools/test.py (shipped in the mmseg wheel) runs our
    evaluation configs: mmzoe comes in through the config's
    custom_imports (default_runtime.py), nothing else."""
    assert MMSEG_TEST and osp.isfile(MMSEG_TEST)
    ckpt = 'work_dirs/.../best_abs_rel_epoch_N.pth'
    out_dir = osp.join('results', 'mmseg_' + osp.basename(config))
    rc, out = run_command(scratch, ['python', MMSEG_TEST, config, ckpt,
                                    '--work-dir', 'work_dirs/mmseg_test',
                                    '--out', out_dir],
                          'mmseg_' + osp.basename(config))
    assert rc == 0, out[-4000:]
    assert re.search(r'abs_rel: \d', out), out[-2000:]
    assert osp.isfile(osp.join(scratch['root'], out_dir,
                               'per_image_metrics.csv'))


def test_eval_only_configs_have_no_half_training_setup():
    """An evaluation-only config must not inherit a training set without a
    schedule (MMEngine's Runner refuses that)."""
    from mmengine.config import Config
    paths = glob.glob(osp.join(REPO, 'configs', '**', '*eval*.py'),
                      recursive=True)
    assert len(paths) >= 2
    for path in paths:
        cfg = Config.fromfile(path)
        train = [cfg.get(k) is None
                 for k in ('train_dataloader', 'train_cfg', 'optim_wrapper')]
        assert all(train) or not any(train), (path, train)
