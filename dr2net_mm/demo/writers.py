"""Write shape scenes as COCO instance annotations, an ADE20K-style segmentation folder, or an ImageFolder."""
import json
from pathlib import Path
from typing import List, Sequence, Tuple

import cv2
import numpy as np

from .shapes import ShapeInstance, rasterise_labels

Scene = Tuple[np.ndarray, List[ShapeInstance]]


def write_coco(scenes: Sequence[Scene], classes: Sequence[str], image_dir: Path, ann_file: Path,
               prefix: str) -> None:
    """Images as JPEG under ``image_dir``, annotations as one COCO ``instances`` JSON."""
    image_dir.mkdir(parents=True, exist_ok=True)
    ann_file.parent.mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for image_id, (img, instances) in enumerate(scenes, start=1):
        file_name = f'{prefix}_{image_id:06d}.jpg'
        cv2.imwrite(str(image_dir / file_name), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
        height, width = img.shape[:2]
        images.append(dict(id=image_id, file_name=file_name, height=height, width=width))
        for inst in instances:
            x, y, w, h = inst.bbox_xywh
            annotations.append(dict(
                id=len(annotations) + 1, image_id=image_id, category_id=inst.label + 1,
                bbox=[round(v, 2) for v in (x, y, w, h)],
                area=float(cv2.contourArea(inst.polygon)),
                segmentation=[[round(float(v), 2) for v in inst.polygon.reshape(-1)]],
                iscrowd=0))
    categories = [dict(id=i + 1, name=name, supercategory='shape') for i, name in enumerate(classes)]
    info = dict(description='dr2net-mm demo shapes', version='1.0')
    ann_file.write_text(json.dumps(dict(info=info, licenses=[], images=images, annotations=annotations,
                                        categories=categories)))


def write_ade(scenes: Sequence[Scene], image_dir: Path, ann_dir: Path, prefix: str) -> None:
    """ADE20K layout: ``images/<subset>/*.jpg`` and ``annotations/<subset>/*.png``.

    As in ADE20K, 0 means 'unlabelled' (ignored through ``reduce_zero_label=True``), 1 is the
    background class and 2.. are the shapes, so after reduction class 0 is 'background'.
    """
    image_dir.mkdir(parents=True, exist_ok=True)
    ann_dir.mkdir(parents=True, exist_ok=True)
    for index, (img, instances) in enumerate(scenes, start=1):
        name = f'{prefix}_{index:06d}'
        cv2.imwrite(str(image_dir / f'{name}.jpg'), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
        seg = rasterise_labels(instances, img.shape[0], background_value=1, first_class_value=2)
        cv2.imwrite(str(ann_dir / f'{name}.png'), seg)


def write_image_folder(images: Sequence[np.ndarray], labels: Sequence[int], classes: Sequence[str],
                       folder: Path, prefix: str) -> None:
    """ImageFolder layout, as mmpretrain's ``CustomDataset`` reads it without an annotation file:
    ``<folder>/<class name>/<prefix>_<index>.png`` (PNG: the outline is the evidence, keep it exact)."""
    for name in classes:
        (folder / name).mkdir(parents=True, exist_ok=True)
    for index, (img, label) in enumerate(zip(images, labels, strict=True), start=1):
        cv2.imwrite(str(folder / classes[label] / f'{prefix}_{index:06d}.png'), img)
