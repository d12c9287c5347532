from .domain_batch_sampler import ZoeRoundRobinBatchSampler

__all__ = ['ZoeRoundRobinBatchSampler']
