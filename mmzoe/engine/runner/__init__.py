from .zoe_runner import (ZoeRunner, destroy_dist, init_cpu_dist,
                         uses_cpu_distributed)

__all__ = [
    'ZoeRunner', 'init_cpu_dist', 'destroy_dist', 'uses_cpu_distributed'
]
