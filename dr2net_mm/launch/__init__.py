"""The logic behind ``tools/train.py`` and ``tools/test.py``: one entry for mmdet, mmseg, mmaction2 and
mmpretrain."""
