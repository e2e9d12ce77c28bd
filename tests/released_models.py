"""The authors' released transfer models in their key layout, with seeded random weights, and the authors'
test paths (priors, SSD predictor, BiSeNet windows, SimpleBaseline decoding, VOC AP), written from reading
EMI-Group/TransferLearning-Tasks (facts, not their code) to check ours against."""
from __future__ import annotations

import itertools
import math
from typing import Dict, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from conftest import to_authors_layout

# the backbone levels the authors' heads read (stride 16, stride 32), per backbone
CHANNELS = {'relativenas': (368, 736), 'darts': (384, 768), 'nasnet': (528, 1056), 'mnasnet': (96, 1280),
            'mobilenetv2': (96, 1280), 'shufflenetv2': (232, 1024)}
BACKBONES = tuple(CHANNELS)
TASKS = ('ssdlite', 'bisenet', 'simplebaseline')
PREFIX = {'ssdlite': 'base_net.', 'bisenet': 'cp.net.', 'simplebaseline': 'backbone.'}


def _imagenet_network(backbone: str) -> Dict[str, torch.Tensor]:
    """The backbone's ImageNet network as the authors build it (their copies of torchvision's and Cadene's
    modules; their DARTS-style cell networks with every preprocess layer), classifier removed."""
    if backbone in ('relativenas', 'darts'):
        from relnas_zoo import VARIANTS, RelativeNASNet
        net = RelativeNASNet(**VARIANTS['relativenas' if backbone == 'relativenas' else 'darts_v2'], prune_unused=False)
        sd = to_authors_layout(net.state_dict())
    elif backbone == 'nasnet':
        import pretrainedmodels
        sd = pretrainedmodels.nasnetamobile(num_classes=1000, pretrained=None).state_dict()
    else:
        import torchvision
        build = {'mnasnet': 'mnasnet1_0', 'mobilenetv2': 'mobilenet_v2', 'shufflenetv2': 'shufflenet_v2_x1_0'}
        sd = getattr(torchvision.models, build[backbone])(weights=None).state_dict()
    return {k: v for k, v in sd.items() if not k.startswith(('classifier.', 'fc.', 'last_linear.'))}


def _bn(name: str, c: int, batch_count: bool = True) -> Dict[str, Tuple[int, ...]]:
    out = {f'{name}weight': (c,), f'{name}bias': (c,), f'{name}running_mean': (c,), f'{name}running_var': (c,)}
    if batch_count:
        out[f'{name}num_batches_tracked'] = ()
    return out


def head_shapes(task: str, backbone: str) -> Dict[str, Tuple[int, ...]]:
    """Key -> shape of the authors' head modules (ssd_mobile.py + ops.py, BiSeNet.py, posenet.py)."""
    c16, c32 = CHANNELS[backbone]
    s: Dict[str, Tuple[int, ...]] = {}
    if task == 'ssdlite':
        prev = c32
        for i, (out, ratio) in enumerate(zip((512, 256, 256, 64), (0.2, 0.25, 0.5, 0.25))):
            hidden = int(round(prev * ratio))
            p = f'extras.{i}.conv.'
            s[p + '0.0.weight'] = (hidden, prev, 1, 1)
            s.update(_bn(p + '0.1.', hidden))
            s[p + '1.0.weight'] = (hidden, 1, 3, 3)
            s.update(_bn(p + '1.1.', hidden))
            s[p + '2.weight'] = (out, hidden, 1, 1)
            s.update(_bn(p + '3.', out))
            prev = out
        for kind, k in (('classification_headers', 21), ('regression_headers', 4)):
            for level, c in enumerate((c16, c32, 512, 256, 256, 64)):
                p = f'{kind}.{level}.'
                if level == 5:
                    s[p + 'weight'], s[p + 'bias'] = (6 * k, c, 1, 1), (6 * k,)
                    continue
                s[p + '0.weight'], s[p + '0.bias'] = (c, 1, 3, 3), (c,)
                s.update(_bn(p + '1.', c))
                s[p + '3.weight'], s[p + '3.bias'] = (6 * k, c, 1, 1), (6 * k,)
    elif task == 'bisenet':
        def cbr(name, cin, cout, k):
            s[name + 'conv.weight'] = (cout, cin, k, k)
            s.update(_bn(name + 'bn.', cout, batch_count=False))  # in-place ABN: no batch count
        for level, c in (('16', c16), ('32', c32)):
            cbr(f'cp.arm{level}.conv.', c, 128, 3)
            s[f'cp.arm{level}.conv_atten.weight'] = (128, 128, 1, 1)
            s.update(_bn(f'cp.arm{level}.bn_atten.', 128, batch_count=False))
        cbr('cp.conv_head32.', 128, 128, 3)
        cbr('cp.conv_head16.', 128, 128, 3)
        cbr('cp.conv_avg.', c32, 128, 1)
        cbr('sp.conv1.', 3, 64, 7)
        cbr('sp.conv2.', 64, 64, 3)
        cbr('sp.conv3.', 64, 64, 3)
        cbr('sp.conv_out.', 64, 128, 1)
        cbr('ffm.convblk.', 256, 256, 1)
        s['ffm.conv1.weight'], s['ffm.conv2.weight'] = (64, 256, 1, 1), (256, 64, 1, 1)
        for name, cin, mid in (('conv_out.', 256, 256), ('conv_out16.', 128, 64), ('conv_out32.', 128, 64)):
            cbr(name + 'conv.', cin, mid, 3)
            s[name + 'conv_out.weight'] = (19, mid, 1, 1)
    else:
        cin = c32
        for i in (0, 3, 6):
            s[f'deconv_layers.{i}.weight'] = (cin, 256, 4, 4)
            s.update(_bn(f'deconv_layers.{i + 1}.', 256))
            cin = 256
        s['final_layer.weight'], s['final_layer.bias'] = (17, 256, 1, 1), (17,)
    return s


def released_state(task: str, backbone: str, seed: int = 0) -> Dict[str, torch.Tensor]:
    """A state dict in the layout of the authors' released file, every tensor seeded random: weights
    around their usual scale, BN statistics away from 0 and 1 so that a misplaced buffer shows."""
    g = torch.Generator().manual_seed(seed)
    shapes = {PREFIX[task] + k: tuple(v.shape) for k, v in _imagenet_network(backbone).items()}
    shapes.update(head_shapes(task, backbone))
    out = {}
    for key, shape in shapes.items():
        if key.endswith('num_batches_tracked'):
            out[key] = torch.tensor(7)
        elif key.endswith('running_var'):
            out[key] = torch.rand(shape, generator=g) + 0.5
        elif key.endswith('running_mean') or key.endswith('.bias'):
            out[key] = torch.randn(shape, generator=g) * 0.1
        elif len(shape) == 1:  # norm scales (some negative: the in-place ABN uses |w|)
            out[key] = torch.randn(shape, generator=g) * 0.5 + 0.8
        else:
            fan_in = int(np.prod(shape[1:])) or 1
            out[key] = torch.randn(shape, generator=g) * math.sqrt(2. / fan_in)
    return out


# ----- the authors' test paths -----

def ssd_priors(image_size: int = 320) -> torch.Tensor:
    """generate_ssd_priors of the authors' config: centre-form priors in [0, 1], clamped."""
    specs = [(20, 16, 60, 105), (10, 32, 105, 150), (5, 64, 150, 195), (3, 100, 195, 240), (2, 150, 240, 285),
             (1, 300, 285, 330)]
    priors = []
    for fm, shrink, lo, hi in specs:
        scale = image_size / shrink
        for j, i in itertools.product(range(fm), repeat=2):
            cx, cy = (i + 0.5) / scale, (j + 0.5) / scale
            size = lo / image_size
            priors.append([cx, cy, size, size])
            big = math.sqrt(lo * hi) / image_size
            priors.append([cx, cy, big, big])
            for r in (2, 3):
                r = math.sqrt(r)
                priors.append([cx, cy, size * r, size / r])
                priors.append([cx, cy, size / r, size * r])
    return torch.tensor(priors).clamp(0., 1.)


def _iou_of(boxes: torch.Tensor, box: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    lt, rb = torch.max(boxes[:, :2], box[:2]), torch.min(boxes[:, 2:], box[2:])
    inter = (rb - lt).clamp(min=0).prod(1)
    a0, a1 = (boxes[:, 2:] - boxes[:, :2]).clamp(min=0).prod(1), (box[2:] - box[:2]).clamp(min=0).prod()
    return inter / (a0 + a1 - inter + eps)


def ssd_predict(scores_logits: torch.Tensor, deltas: torch.Tensor, width: int, height: int):
    """The authors' Predictor on one image: softmax, prior decoding, per class (background 0 skipped)
    scores > 0.01, the 200 best, greedy hard NMS keeping IoU <= 0.45; boxes scaled to the image.
    Returns (boxes (n, 4), labels (n,) with 1..20, scores (n,))."""
    priors = ssd_priors()
    probs = scores_logits.softmax(-1)
    centre = deltas[:, :2] * 0.1 * priors[:, 2:] + priors[:, :2]
    size = torch.exp(deltas[:, 2:] * 0.2) * priors[:, 2:]
    boxes = torch.cat([centre - size / 2, centre + size / 2], 1)
    out_boxes, out_labels, out_scores = [], [], []
    for c in range(1, probs.shape[1]):
        p = probs[:, c]
        mask = p > 0.01
        cand_boxes, cand_scores = boxes[mask], p[mask]
        order = torch.argsort(cand_scores, descending=True, stable=True)[:200]
        picked = []
        while len(order):
            cur = order[0]
            picked.append(int(cur))
            if len(order) == 1:
                break
            order = order[1:]
            order = order[_iou_of(cand_boxes[order], cand_boxes[cur]) <= 0.45]
        out_boxes.append(cand_boxes[picked])
        out_scores.append(cand_scores[picked])
        out_labels += [c] * len(picked)
    boxes = torch.cat(out_boxes) * torch.tensor([width, height, width, height])
    return boxes, torch.tensor(out_labels), torch.cat(out_scores)


def bisenet_windows(logits_fn, image: torch.Tensor, crop: int = 1024) -> torch.Tensor:
    """The authors' single-scale sliding-window test (valid.py crop_eval, flip off): windows of ``crop`` at
    stride ceil(crop * 5/6), each window's exp(softmax(logits)) summed; returns the label map."""
    _, _, h, w = image.shape
    stride = math.ceil(crop * 5 / 6)
    prob = torch.zeros(1, 19, h, w)
    for iy in range(math.ceil((h - crop) / stride) + 1):
        for ix in range(math.ceil((w - crop) / stride) + 1):
            hed, wed = min(h, stride * iy + crop), min(w, stride * ix + crop)
            hst, wst = hed - crop, wed - crop
            prob[:, :, hst:hed, wst:wed] += torch.exp(F.softmax(logits_fn(image[:, :, hst:hed, wst:wed]), 1))
    return prob.argmax(1)[0]


def affine_matrix(center, scale_px, output_size, inv: bool = False) -> np.ndarray:
    """SimpleBaseline's get_affine_transform without rotation: the box centre to the output centre, the
    box width ``scale_px[0]`` to the output width."""
    import cv2
    w_out, h_out = output_size
    src = np.zeros((3, 2), np.float32)
    dst = np.zeros((3, 2), np.float32)
    src[0], dst[0] = center, (w_out * 0.5, h_out * 0.5)
    src[1], dst[1] = np.asarray(center) + (0, -scale_px[0] * 0.5), (w_out * 0.5, h_out * 0.5 - w_out * 0.5)
    for pts in (src, dst):
        d = pts[0] - pts[1]
        pts[2] = pts[1] + np.array([-d[1], d[0]], np.float32)
    return cv2.getAffineTransform(dst, src) if inv else cv2.getAffineTransform(src, dst)


def simplebaseline_box(bbox_xywh, img_w: int, img_h: int, aspect: float = 192 / 256):
    """lib/dataset/coco.py: the cleaned box, its centre and padded scale (pixels)."""
    x, y, w, h = bbox_xywh
    x1, y1 = max(0, x), max(0, y)
    x2, y2 = min(img_w - 1, x1 + max(0, w - 1)), min(img_h - 1, y1 + max(0, h - 1))
    w, h = x2 - x1, y2 - y1
    center = np.array([x1 + w * 0.5, y1 + h * 0.5], np.float32)
    if w > aspect * h:
        h = w / aspect
    elif w < aspect * h:
        w = h * aspect
    return center, np.array([w * 1.25, h * 1.25], np.float32)


def simplebaseline_decode(heatmaps: np.ndarray, center, scale_px) -> np.ndarray:
    """lib/core/inference.py get_final_preds: argmax, (0, 0) for a non-positive maximum, the quarter-pixel
    shift when 1 < x < W-1 and 1 < y < H-1, then back to the image through the inverse affine."""
    k, h, w = heatmaps.shape
    flat = heatmaps.reshape(k, -1)
    idx, maxval = flat.argmax(1), flat.max(1)
    coords = np.stack([idx % w, idx // w], 1).astype(np.float32) * (maxval > 0)[:, None]
    for j in range(k):
        px, py = int(math.floor(coords[j, 0] + 0.5)), int(math.floor(coords[j, 1] + 0.5))
        if 1 < px < w - 1 and 1 < py < h - 1:
            hm = heatmaps[j]
            coords[j] += np.sign([hm[py, px + 1] - hm[py, px - 1], hm[py + 1, px] - hm[py - 1, px]]) * .25
    trans = affine_matrix(center, scale_px, (w, h), inv=True)
    return np.array([trans @ np.array([cx, cy, 1.]) for cx, cy in coords])
