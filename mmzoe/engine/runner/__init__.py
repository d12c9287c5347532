from .zoe_runner import (ZoeRunner, build_runner, destroy_dist,
                         init_cpu_dist, uses_cpu_distributed)

__all__ = [
    'ZoeRunner', 'build_runner', 'init_cpu_dist', 'destroy_dist',
    'uses_cpu_distributed'
]
