"""Datasets: loaders for each source format into one internal form, preprocessing and splits."""

from dpr_plugin.data.dataset import SequenceDataset
from dpr_plugin.data.split import LeaveOneOutSplit, leave_one_out

__all__ = ["LeaveOneOutSplit", "SequenceDataset", "leave_one_out"]
