"""Safe checkpoint loading under ``torch.load(weights_only=True)``.

TODO(issue 2): register exactly the types MMEngine pickles into its checkpoints.
"""


def register_checkpoint_safe_globals() -> None:
    """Allow-list the types MMEngine writes into checkpoints."""
