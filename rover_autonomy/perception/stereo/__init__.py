"""Node ``stereo_processor``: cores :mod:`matcher` (SGBM/BM), :mod:`points` (disparity to 3-D) and
:mod:`processor` (the pipeline); :mod:`parameters` and :mod:`node` (ROS)."""
