"""``cpv doctor``: every health check of the user's setup (config, credentials, storage,
git remote, SSH key, tool versions), from :mod:`cpv.core.health`; inside a model repository
its own team, model and ``.dvc/config`` settings are the ones checked."""

from __future__ import annotations

from cpv.core.health import SAMPLE_MODEL, SAMPLE_TEAM, DoctorReport, run_doctor
from cpv.domain.errors import CpvError
from cpv.domain.paths import StrPath


def doctor(path: StrPath = ".", *, timeout: float = 10.0) -> DoctorReport:
    """Run every check; ``path`` in a model repository checks that model's setup."""
    from cpv.core.repo import ModelRepo

    team, model, root = SAMPLE_TEAM, SAMPLE_MODEL, None  # outside a model repository
    try:
        repo = ModelRepo.open(path)
        team, model, root = repo.config.team, repo.config.model, repo.root
    except CpvError:
        pass
    report = run_doctor(timeout=timeout, team=team, model=model)
    if root is not None and report.sources:
        from cpv.settings.config_env import model_sources

        report.sources += model_sources(root)
    return report
