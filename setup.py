"""Install mmzoe: ``pip install -e .`` (see README for the full set-up)."""
import os.path as osp

from setuptools import find_packages, setup


def get_version() -> str:
    scope: dict = {}
    with open(osp.join('mmzoe', 'version.py'), encoding='utf-8') as f:
        exec(compile(f.read(), 'mmzoe/version.py', 'exec'), scope)
    return scope['__version__']


def parse_requirements(fname: str) -> list:
    reqs = []
    with open(fname, encoding='utf-8') as f:
        for line in f:
            line = line.split('#')[0].strip()
            if line and not line.startswith('-r'):
                reqs.append(line)
    return reqs


if __name__ == '__main__':
    setup(
        name='mmzoe',
        version=get_version(),
        description='ZoeDepth metric depth estimation as an OpenMMLab '
        '(MMSegmentation 1.x) plugin, with segmentation cross-talk '
        'distillation',
        long_description=open('README.md', encoding='utf-8').read()
        if osp.exists('README.md') else '',
        long_description_content_type='text/markdown',
        # mmzoe (the plugin) and mmzoe_synthetic (the demo's renderer)
        packages=find_packages(
            include=('mmzoe', 'mmzoe.*', 'mmzoe_synthetic',
                     'mmzoe_synthetic.*')),
        include_package_data=True,
        package_data={'mmzoe': ['**/*.txt', '**/*.json']},
        python_requires='>=3.9',
        install_requires=parse_requirements('requirements/runtime.txt'),
        extras_require={
            'tests': parse_requirements('requirements/tests.txt') +
            parse_requirements('requirements/deploy.txt'),
            'deploy': parse_requirements('requirements/deploy.txt')
        },
        license='Apache License 2.0',
        zip_safe=False)
