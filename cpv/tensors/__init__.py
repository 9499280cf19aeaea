"""Compact storage of checkpoint files: a file stored as the tensors no earlier version
stored, plus a recipe that rebuilds it bit-exact (issue 23's opt-in compact mode).

Pure: no torch, no repository, no storage. :mod:`~cpv.tensors.formats` finds the tensors in
a safetensors or ``torch.save`` file, :mod:`~cpv.tensors.codec` compresses a segment
losslessly (byte planes + zstandard), :mod:`~cpv.tensors.recipe` is the manifest (checked
as untrusted input), :mod:`~cpv.tensors.compose` splits a file and rebuilds it.
"""
