"""What each ``cpv`` command does, one module per command family, named after the command.

The managers (:mod:`cpv.api.managers`) call these; they call the adapters (``cpv._git.repo``,
``cpv._dvc.repo``, ``cpv._s3.client``) and the shared modules (:mod:`cpv.core.repo`, :mod:`cpv.core.transaction`,
:mod:`cpv.core.workspace`, :mod:`cpv.objects.store`). See ``docs/architecture.md``.
"""
