"""A :class:`~mmengine.config.Config` that formats its text once.

MMEngine's :class:`~mmengine.runner.Runner` stores ``cfg.pretty_text`` in
every checkpoint it saves (and logs, dumps and records it at the start of a
run). ``pretty_text`` runs yapf over the whole config each time: ~0.2 s of
CPU for a recipe config, i.e. a second or more per run that keeps the best
checkpoint of frequent validations, for the same text every time.
:class:`TextOnceConfig` keeps the formatted text with the content it was
formatted from and formats again only when that content changed.
"""
from mmengine.config import Config


class TextOnceConfig(Config):
    """:class:`~mmengine.config.Config` whose ``pretty_text`` is formatted
    once per content (see the module docstring); everything else is
    MMEngine's."""

    @classmethod
    def from_config(cls, cfg: Config) -> 'TextOnceConfig':
        """The same config (shared content, not a copy) as this class.

        Args:
            cfg (Config): A config; a :class:`TextOnceConfig` or an instance
                of another :class:`~mmengine.config.Config` subclass is
                returned as it is.

        Returns:
            Config: ``cfg`` or a :class:`TextOnceConfig` on its content.
        """
        if type(cfg) is not Config:
            return cfg
        out = cls.__new__(cls)
        out.__dict__.update(cfg.__dict__)
        return out

    @property
    def pretty_text(self) -> str:
        """MMEngine's formatted config text, formatted again only when the
        content (or the formatting switch) changed since the last call."""
        key = (repr(self.to_dict()), self._format_python_code)
        cached = self.__dict__.get('_text_once')
        if cached is None or cached[0] != key:
            cached = (key, Config.pretty_text.fget(self))
            # Config.__setattr__ writes into the content: bypass it
            object.__setattr__(self, '_text_once', cached)
        return cached[1]
