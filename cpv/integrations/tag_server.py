"""Entry point of the versioning child process: ``python -m cpv.integrations.tag_server NICE``.

Kept apart from :mod:`cpv.integrations._tag_process` (which the package imports) so that
``-m`` runs a module that is not already imported.
"""

import sys

from cpv.integrations._tag_process import main

main(sys.argv[1:])
