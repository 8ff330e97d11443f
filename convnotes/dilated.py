"""Dilated (atrous) convolution: holes in the kernel (chapter 4).

A dilated convolution with rate ``d`` reads every ``d``-th input pixel under its kernel, so a
3x3 kernel covers a 5x5, 9x9, ... window with the same nine weights. Three equivalent ways to
compute it, each equal to ``F.conv2d(..., dilation=d)``:

* :func:`dilate_kernel`: write the holes into the kernel (``d - 1`` zeros between taps) and
  run an ordinary convolution;
* :func:`dilated_conv2d_via_space_to_batch`: split the image into ``d * d`` sub-images of
  every ``d``-th pixel (:func:`space_to_batch`), run the *undilated* convolution on each, and
  interleave the results again (:func:`batch_to_space`);
* ``F.conv2d(dilation=d)`` itself, the twin.

And two tools for the chapter's questions: :func:`dilated_coverage` (which input pixels a
stack of dilated layers can see: the gridding problem) and :func:`effective_receptive_field`
(how much each input pixel actually matters, measured with gradients). For networks,
:class:`ASPP` (DeepLabv3's atrous spatial pyramid pooling), with :func:`aspp_rates` and
:func:`atrous_schedule` for the backbone's output stride.

References
----------
* F. Yu and V. Koltun, "Multi-scale context aggregation by dilated convolutions",
  ICLR 2016.
* L.-C. Chen et al., "DeepLab: semantic image segmentation with deep convolutional nets,
  atrous convolution, and fully connected CRFs", TPAMI 2018.
* P. Wang et al., "Understanding convolution for semantic segmentation", WACV 2018.
* W. Luo, Y. Li, R. Urtasun and R. Zemel, "Understanding the effective receptive field
  in deep convolutional neural networks", NeurIPS 2016.
* L.-C. Chen, G. Papandreou, F. Schroff and H. Adam, "Rethinking atrous convolution for
  semantic image segmentation", arXiv:1706.05587, 2017 (ASPP with image pooling).

Examples
--------
>>> dilate_kernel(torch.ones(2, 2), 3)
tensor([[1., 0., 0., 1.],
        [0., 0., 0., 0.],
        [0., 0., 0., 0.],
        [1., 0., 0., 1.]])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ._checks import (
    Size2,
    as_batch,
    check_conv_operands,
    check_conv_weight,
    check_divisible,
    check_float_tensor,
    check_int,
    check_int_sequence,
    check_layer_input,
    check_no_zero_size,
    check_window_fits,
    pair,
    unbatch,
)
from .arithmetic import conv_output_size

__all__ = [
    "ASPP",
    "ImagePooling",
    "aspp_rates",
    "atrous_schedule",
    "batch_to_space",
    "dilate_kernel",
    "dilated_conv2d_via_space_to_batch",
    "dilated_coverage",
    "effective_receptive_field",
    "space_to_batch",
]


def dilate_kernel(weight: torch.Tensor, dilation: Size2) -> torch.Tensor:
    """Insert ``dilation - 1`` zeros between neighbouring kernel taps.

    Parameters
    ----------
    weight : Tensor, shape (..., kh, kw)
        Any leading dimensions, e.g. a ``(C_out, C_in, kh, kw)`` convolution weight.
    dilation : int or (int, int)
        ``d >= 1`` (per axis).

    Returns
    -------
    Tensor, shape (..., d_h (kh - 1) + 1, d_w (kw - 1) + 1)

    Notes
    -----
    .. math::

        w_d[d_h a, d_w b] = w[a, b], \\qquad w_d = 0 \\text{ elsewhere,}

    so that ``F.conv2d(x, dilate_kernel(w, d)) == F.conv2d(x, w, dilation=d)``: the
    dilated convolution is an ordinary convolution with a kernel full of holes (Yu & Koltun, 2016).
    The same zero insertion applied to the *input* gives the transposed convolution.

    References
    ----------
    * F. Yu and V. Koltun, "Multi-scale context aggregation by dilated convolutions",
      ICLR 2016.

    Examples
    --------
    >>> dilate_kernel(torch.tensor([[1.0, 2.0, 3.0]]), 2)
    tensor([[1., 0., 2., 0., 3.]])
    """
    check_float_tensor("weight", weight)
    if weight.ndim < 2:
        raise ValueError(f"weight must have at least 2 dimensions (..., kh, kw), got shape "
                         f"{tuple(weight.shape)}")
    check_no_zero_size("weight", weight, first_axis=weight.ndim - 2)  # no taps to space out
    dh, dw = pair("dilation", dilation)
    kh, kw = weight.shape[-2:]
    holes = weight.new_zeros(*weight.shape[:-2], dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    holes[..., ::dh, ::dw] = weight  # a copy into a fresh tensor: autograd tracks it
    return holes


def space_to_batch(x: torch.Tensor, block_size: Size2, padding: Size2 = 0) -> torch.Tensor:
    """Split an image into ``b_h * b_w`` sub-images of every ``b``-th pixel, stacked in the batch.

    Twin: TensorFlow's ``space_to_batch`` (same batch order), inverse of
    :func:`batch_to_space`.

    Parameters
    ----------
    x : Tensor, shape (N, C, H, W)
    block_size : int or (int, int)
        ``b``; ``H + 2 p_h`` must be divisible by ``b_h`` (likewise for the width).
    padding : int or (int, int)
        Zeros added on each side first.

    Returns
    -------
    Tensor, shape (b_h b_w N, C, (H + 2 p_h) / b_h, (W + 2 p_w) / b_w)

    Notes
    -----
    With :math:`x_p` the padded input,

    .. math:: y[(a\\, b_w + c) N + n,\\ :,\\ i,\\ j] = x_p[n,\\ :,\\ b_h i + a,\\ b_w j + c]

    Examples
    --------
    >>> space_to_batch(torch.arange(4.0).reshape(1, 1, 2, 2), 2).flatten().tolist()
    [0.0, 1.0, 2.0, 3.0]
    """
    check_float_tensor("x", x, ndim=4)
    bh, bw = pair("block_size", block_size)
    ph, pw = pair("padding", padding, minimum=0)
    padded = F.pad(x, (pw, pw, ph, ph))
    batch, channels, height, width = padded.shape
    check_divisible("height + 2 * padding", height, bh, f"block_size = {bh}")
    check_divisible("width + 2 * padding", width, bw, f"block_size = {bw}")
    blocks = padded.reshape(batch, channels, height // bh, bh, width // bw, bw)
    blocks = blocks.permute(3, 5, 0, 1, 2, 4)  # (bh, bw, N, C, H/bh, W/bw)
    return blocks.reshape(bh * bw * batch, channels, height // bh, width // bw)


def batch_to_space(x: torch.Tensor, block_size: Size2, crop: Size2 = 0) -> torch.Tensor:
    """Interleave ``b_h * b_w`` sub-images into one image (inverse of :func:`space_to_batch`).

    Parameters
    ----------
    x : Tensor, shape (b_h b_w N, C, H, W)
        Batch size divisible by ``b_h * b_w``.
    block_size : int or (int, int)
    crop : int or (int, int)
        Rows/columns removed from each side afterwards (undoes ``padding``).

    Returns
    -------
    Tensor, shape (N, C, b_h H - 2 c_h, b_w W - 2 c_w)

    Examples
    --------
    >>> x = torch.randn(2, 3, 6, 4)
    >>> torch.equal(batch_to_space(space_to_batch(x, 2, padding=1), 2, crop=1), x)
    True
    """
    check_float_tensor("x", x, ndim=4)
    bh, bw = pair("block_size", block_size)
    ch, cw = pair("crop", crop, minimum=0)
    total, channels, height, width = x.shape
    check_divisible("batch size (x.shape[0])", total, bh * bw, f"block_size**2 = {bh * bw}")
    if 2 * ch >= bh * height or 2 * cw >= bw * width:
        raise ValueError(f"crop={(ch, cw)} removes the whole {(bh * height, bw * width)} image")
    blocks = x.reshape(bh, bw, total // (bh * bw), channels, height, width)
    image = blocks.permute(2, 3, 4, 0, 5, 1).reshape(-1, channels, height * bh, width * bw)
    return image[:, :, ch : image.shape[2] - ch, cw : image.shape[3] - cw]


def dilated_conv2d_via_space_to_batch(x: torch.Tensor, weight: torch.Tensor, dilation: Size2,
                                      padding: Size2 = 0) -> torch.Tensor:
    """Dilated convolution as space_to_batch, an ordinary convolution and batch_to_space.

    Twin: ``F.conv2d(x, weight, padding=padding, dilation=dilation)``.

    Parameters
    ----------
    x : Tensor, shape (N, C_in, H, W) or (C_in, H, W)
    weight : Tensor, shape (C_out, C_in, kh, kw)
    dilation : int or (int, int)
    padding : int or (int, int)

    Returns
    -------
    Tensor, shape (N, C_out, H_out, W_out) or (C_out, H_out, W_out)
        ``H_out = H + 2p - d (k - 1)``.

    Notes
    -----
    Output pixel ``d q + a`` reads input pixels ``d (q + m) + a``: only pixels of phase
    ``a``. So each phase sub-image, convolved with the undilated kernel, gives the outputs
    of that phase:

    .. math::

        y[d q + a] = \\sum_m w[m]\\, x_p[d (q + m) + a] = (w \\star x_p^{(a)})[q].

    The padded input is extended with zeros at the bottom/right to a multiple of ``d``
    (those rows only feed outputs that are cropped away). This is how TensorFlow implemented
    ``atrous_conv2d`` and how DeepLab describes it (Chen et al., 2018).

    References
    ----------
    * L.-C. Chen et al., "DeepLab: semantic image segmentation with deep convolutional
      nets, atrous convolution, and fully connected CRFs", TPAMI 2018.

    Examples
    --------
    >>> x, w = torch.randn(1, 2, 9, 9), torch.randn(3, 2, 3, 3)
    >>> y = dilated_conv2d_via_space_to_batch(x, w, 2, padding=2)
    >>> y.shape, torch.allclose(y, F.conv2d(x, w, padding=2, dilation=2), atol=1e-5)
    (torch.Size([1, 3, 9, 9]), True)
    """
    check_conv_operands(x, weight)
    x4, batched = as_batch("x", x)
    check_conv_weight(weight, None, x4.shape[1], 1)
    dh, dw = pair("dilation", dilation)
    ph, pw = pair("padding", padding, minimum=0)
    kh, kw = weight.shape[-2:]
    height, width = x.shape[-2:]
    check_window_fits("weight", (kh, kw), (dh, dw), (height, width), (ph, pw))
    out_h, out_w = conv_output_size(height, kh, 1, ph, dh), conv_output_size(width, kw, 1, pw, dw)
    extra_h, extra_w = -(height + 2 * ph) % dh, -(width + 2 * pw) % dw
    padded = F.pad(x4, (pw, pw + extra_w, ph, ph + extra_h))
    phases = space_to_batch(padded, (dh, dw))
    out = batch_to_space(F.conv2d(phases, weight), (dh, dw))[:, :, :out_h, :out_w]
    return unbatch(out, batched)


def dilated_coverage(dilations: Sequence[int], kernel_size: int = 3) -> np.ndarray:
    """How many paths lead from each input pixel to one output of a stack of dilated layers.

    Parameters
    ----------
    dilations : sequence of int
        The rates of stride-1 ``kernel_size x kernel_size`` layers, from the input up.
    kernel_size : int

    Returns
    -------
    ndarray of int64, shape (R, R)
        ``R`` is the receptive field, ``1 + sum_l d_l (k - 1)``. Zero entries are input
        pixels the output cannot see at all (the "gridding" of Wang et al., 2018).

    Notes
    -----
    The count is the full convolution of the layers' all-ones dilated kernels; in 1-D,
    ``c = 1_{d_1} * 1_{d_2} * ...``, and in 2-D the outer product ``c c^T``.

    References
    ----------
    * P. Wang et al., "Understanding convolution for semantic segmentation", WACV 2018.

    Examples
    --------
    >>> dilated_coverage([2, 2])[0]
    array([1, 0, 2, 0, 3, 0, 2, 0, 1])
    """
    rates = check_int_sequence("dilations", dilations, minimum=1)
    kernel_size = check_int("kernel_size", kernel_size, minimum=1)
    counts = np.ones(1, dtype=np.int64)
    for rate in rates:
        taps = np.zeros(rate * (kernel_size - 1) + 1, dtype=np.int64)
        taps[::rate] = 1
        counts = np.convolve(counts, taps)
    return np.outer(counts, counts)


def _first_float_tensor(model: object) -> torch.Tensor | None:
    """The first floating-point parameter or buffer of an ``nn.Module`` (None otherwise)."""
    if not isinstance(model, torch.nn.Module):
        return None
    tensors = (*model.parameters(), *model.buffers())
    return next((tensor for tensor in tensors if tensor.is_floating_point()), None)


def effective_receptive_field(model: Callable[[torch.Tensor], torch.Tensor], input_size: int,
                              in_channels: int = 1, *, num_samples: int = 8,
                              generator: torch.Generator | None = None,
                              device: torch.device | str | None = None) -> torch.Tensor:
    """Gradient of the centre output pixel with respect to the input, averaged over inputs.

    Parameters
    ----------
    model : callable
        Maps ``(num_samples, in_channels, S, S)`` to ``(num_samples, C, H, W)``, typically
        an ``nn.Module``.
    input_size : int
        ``S``, the side of the random input images.
    in_channels : int
    num_samples : int
        Random inputs (standard normal) the magnitude is averaged over.
    generator : torch.Generator, optional
        For reproducible inputs.
    device : torch.device or str, optional
        Where to create the inputs; by default the device of the model's first floating-point
        parameter (or buffer), or the CPU for a model without any. The inputs take that
        tensor's dtype too (float32 for a model without one), so a ``.double()`` model works.

    Returns
    -------
    Tensor, shape (S, S), float64 on the CPU
        :math:`E\\,|\\partial y_{\\text{centre}} / \\partial x|`, summed over input channels
        and normalised to sum 1: the effective receptive field of Luo et al. (2016).

    Notes
    -----
    ``y_centre`` is the sum over output channels of the pixel at ``(H // 2, W // 2)``.

    References
    ----------
    * W. Luo, Y. Li, R. Urtasun and R. Zemel, "Understanding the effective receptive
      field in deep convolutional neural networks", NeurIPS 2016.

    Examples
    --------
    >>> erf = effective_receptive_field(torch.nn.Conv2d(1, 1, 3, padding=1), 7)
    >>> erf.shape, int((erf > 0).sum())
    (torch.Size([7, 7]), 9)
    """
    input_size = check_int("input_size", input_size, minimum=1)
    in_channels = check_int("in_channels", in_channels, minimum=1)
    num_samples = check_int("num_samples", num_samples, minimum=1)
    if not callable(model):
        raise TypeError(f"model must be callable (e.g. an nn.Module), got {type(model).__name__}")
    reference = _first_float_tensor(model)
    dtype = torch.float32 if reference is None else reference.dtype
    where = device if device is not None else "cpu" if reference is None else reference.device
    x = torch.randn(num_samples, in_channels, input_size, input_size, generator=generator,
                    dtype=dtype)
    x = x.to(where).requires_grad_(True)
    y = model(x)
    if not isinstance(y, torch.Tensor) or y.ndim != 4:
        raise ValueError(f"model must return an (N, C, H, W) tensor, got "
                         f"{getattr(y, 'shape', type(y).__name__)}")
    centre = y[:, :, y.shape[2] // 2, y.shape[3] // 2].sum()
    (grad,) = torch.autograd.grad(centre, x)
    magnitude = grad.detach().abs().sum(dim=1).mean(dim=0).to("cpu", torch.float64)
    total = magnitude.sum()
    return magnitude / total if float(total) > 0 else magnitude


# --------------------------------------------------------------------------------------------
# Atrous spatial pyramid pooling (DeepLab) and the output stride
# --------------------------------------------------------------------------------------------


def aspp_rates(output_stride: int) -> tuple[int, int, int]:
    """The three atrous rates of DeepLabv3's ASPP for a backbone's ``output_stride``.

    Parameters
    ----------
    output_stride : int
        The ratio of the input image's side to the feature map's side: 16 or 8.

    Returns
    -------
    tuple of int
        ``(6, 12, 18)`` at output stride 16 and the doubled ``(12, 24, 36)`` at 8, so that
        every branch keeps its field of view in *image* pixels,
        :math:`d \\cdot \\text{output stride}`.

    References
    ----------
    * L.-C. Chen, G. Papandreou, F. Schroff and H. Adam, "Rethinking atrous convolution for
      semantic image segmentation", arXiv:1706.05587, 2017 (section 3.3).

    Examples
    --------
    >>> aspp_rates(16), aspp_rates(8)
    ((6, 12, 18), (12, 24, 36))
    """
    output_stride = check_int("output_stride", output_stride, minimum=1)
    if output_stride not in (8, 16):
        raise ValueError(f"output_stride must be 8 or 16 (DeepLabv3's settings), "
                         f"got {output_stride}")
    scale = 16 // output_stride
    return (6 * scale, 12 * scale, 18 * scale)


def atrous_schedule(strides: Sequence[int], output_stride: int) -> list[tuple[int, int]]:
    """Replace a backbone's last strides by dilation so that it stops at ``output_stride``.

    Parameters
    ----------
    strides : sequence of int
        The stride of each stage, from the input up (ResNet: ``(4, 1, 2, 2, 2)`` for the
        stem and ``layer1`` to ``layer4``; their product, 32, is the usual output stride).
    output_stride : int
        The wanted ratio of input side to output side; must divide the product of the
        strides and be reached exactly by a prefix of them.

    Returns
    -------
    list of (stride, dilation)
        One pair per stage. Stages before the target keep their stride and dilation 1; each
        later stage gets stride 1 and a dilation multiplied by the stride it gave up, the
        "atrous algorithm" of DeepLab (``replace_stride_with_dilation`` in torchvision).

    References
    ----------
    * L.-C. Chen et al., "DeepLab: semantic image segmentation with deep convolutional nets,
      atrous convolution, and fully connected CRFs", TPAMI 2018.

    Examples
    --------
    >>> atrous_schedule((4, 1, 2, 2, 2), 8)
    [(4, 1), (1, 1), (2, 1), (1, 2), (1, 4)]
    """
    steps = check_int_sequence("strides", strides, minimum=1)
    output_stride = check_int("output_stride", output_stride, minimum=1)
    schedule, reached, rate = [], 1, 1
    for step in steps:
        if reached * step <= output_stride:
            reached *= step
            schedule.append((step, rate))
        else:
            rate *= step
            schedule.append((1, rate))
    if reached != output_stride:
        raise ValueError(f"output_stride must be a product of leading strides of {tuple(steps)}, "
                         f"got {output_stride}")
    return schedule


def _conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int,
                  dilation: int = 1) -> torch.nn.Sequential:
    padding = dilation * (kernel_size - 1) // 2
    return torch.nn.Sequential(
        torch.nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding,
                        dilation=dilation, bias=False),
        torch.nn.BatchNorm2d(out_channels),
        torch.nn.ReLU(),
    )


class ImagePooling(torch.nn.Module):
    """ASPP's image-level branch: global average, 1x1 conv + BN + ReLU, spread back."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.in_channels = check_int("in_channels", in_channels, minimum=1)
        out_channels = check_int("out_channels", out_channels, minimum=1)
        self.project = _conv_bn_relu(self.in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_layer_input(x, next(self.parameters()), self.in_channels, ndim=4)
        as_batch("x", x)  # the zero-size policy: the mean of no pixels is not a number
        pooled = self.project(x.mean(dim=(2, 3), keepdim=True))
        return pooled.expand(-1, -1, x.shape[2], x.shape[3])


class ASPP(torch.nn.Module):
    """Atrous spatial pyramid pooling, as in DeepLabv3.

    Five parallel branches on the same feature map: a 1x1 convolution, three 3x3
    convolutions with rates ``rates`` and an image-level branch (global average pooling);
    each is followed by batch norm and a ReLU. Their outputs are concatenated and fused by a
    1x1 convolution + BN + ReLU.

    Parameters
    ----------
    in_channels : int
        ``C_in`` of the backbone's feature map.
    out_channels : int
        Channels of every branch and of the output (256 in the paper).
    rates : sequence of int, optional
        Atrous rates of the 3x3 branches; default :func:`aspp_rates` of ``output_stride``.
    output_stride : int
        8 or 16; used only to pick the default rates.

    Notes
    -----
    Input ``x`` of shape ``(N, C_in, H, W)``, output of shape ``(N, out_channels, H, W)``.
    With ``padding = rate`` every 3x3 branch keeps ``H x W``; the image-level branch is
    constant over the map (upsampling a 1x1 map, bilinearly or not, repeats it). The
    module's layout (``convs``, ``project``) mirrors ``torchvision``'s
    ``models.segmentation.deeplabv3.ASPP`` without its dropout.

    References
    ----------
    * L.-C. Chen, G. Papandreou, F. Schroff and H. Adam, "Rethinking atrous convolution for
      semantic image segmentation", arXiv:1706.05587, 2017.
    * L.-C. Chen et al., "DeepLab", TPAMI 2018 (the first ASPP: four rates, summed).

    Examples
    --------
    >>> aspp = ASPP(32, 16, output_stride=16).eval()
    >>> aspp(torch.randn(1, 32, 33, 33)).shape
    torch.Size([1, 16, 33, 33])
    """

    def __init__(self, in_channels: int, out_channels: int = 256,
                 rates: Sequence[int] | None = None, output_stride: int = 16) -> None:
        super().__init__()
        in_channels = check_int("in_channels", in_channels, minimum=1)
        out_channels = check_int("out_channels", out_channels, minimum=1)
        if rates is None:
            rates = aspp_rates(output_stride)
        self.rates = check_int_sequence("rates", rates, minimum=1)
        self.in_channels = in_channels
        branches: list[torch.nn.Module] = [_conv_bn_relu(in_channels, out_channels, 1)]
        branches += [_conv_bn_relu(in_channels, out_channels, 3, r) for r in self.rates]
        branches.append(ImagePooling(in_channels, out_channels))
        self.convs = torch.nn.ModuleList(branches)
        self.project = _conv_bn_relu(len(branches) * out_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_layer_input(x, next(self.parameters()), self.in_channels, ndim=4)
        return self.project(torch.cat([branch(x) for branch in self.convs], dim=1))
