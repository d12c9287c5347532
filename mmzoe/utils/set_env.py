"""Register every mmzoe (and mmseg) module and set the default scope."""
import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import all mmzoe and mmseg modules so their registries are filled.

    Args:
        init_default_scope (bool): Whether to set the global default scope to
            ``mmzoe``, so unqualified names resolve in mmzoe first and then in
            mmseg. Defaults to True.
    """
    import mmzoe  # noqa: F401  (imports mmseg.models etc. after the compat)
    import mmseg.datasets  # noqa: F401
    import mmseg.engine  # noqa: F401
    import mmseg.evaluation  # noqa: F401
    import mmseg.models  # noqa: F401
    import mmseg.structures  # noqa: F401

    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or not DefaultScope.check_instance_created('mmzoe'):
        DefaultScope.get_instance('mmzoe', scope_name='mmzoe')
        return
    if current.scope_name != 'mmzoe':
        warnings.warn(f'The current default scope "{current.scope_name}" is '
                      'not "mmzoe"; register_all_modules forces it to "mmzoe".')
        DefaultScope.get_instance(
            f'mmzoe-{datetime.datetime.now()}', scope_name='mmzoe')
