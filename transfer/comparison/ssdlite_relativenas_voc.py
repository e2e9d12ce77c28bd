# Table 5 (SSDLite, PASCAL VOC), RelativeNAS row: the task's own config, listed here so that the
# comparison has one config per row.
_base_ = ['../ssdlite_voc.py']
