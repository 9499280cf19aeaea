"""What each ``cpv`` command does, one module per command family, named after the command.

The managers (:mod:`cpv.managers`) call these; they call the adapters (``cpv._git``,
``cpv._dvc``, ``cpv._s3``) and the shared modules (:mod:`cpv.repo`, :mod:`cpv.transaction`,
:mod:`cpv.workspace`, :mod:`cpv.storage`). See ``docs/architecture.md``.
"""
