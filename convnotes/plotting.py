"""One look for every figure in the book: grids of numbers, images, kernels, feature maps and
sliding-window animations in the style of the convolution-arithmetic guide.

Every function returns the ``matplotlib.figure.Figure`` (or ``FuncAnimation``) it made, draws
nothing global besides the book's style, and accepts NumPy arrays or torch tensors (CPU or
CUDA; they are copied to the CPU for drawing only).

End a notebook cell with ``plotting.show_grid(...);`` (note the semicolon) so the figure is
shown once, as a PNG, without a text repr.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib import animation
from matplotlib.figure import Figure, SubFigure
from matplotlib.patches import Rectangle

from ._checks import check_bool, check_int, check_number, check_one_of, check_path, check_real
from .arithmetic import conv_output_size

if TYPE_CHECKING:
    import numpy.typing as npt
    from IPython.display import Image

__all__ = [
    "ARITHMETIC_ANIMATIONS",
    "BOOK_STYLE",
    "COLORS",
    "AnimationSettings",
    "SlidingWindow",
    "animate_sliding_window",
    "animation_to_gif",
    "new_figure",
    "show_animation",
    "show_feature_maps",
    "show_grid",
    "show_images",
    "show_kernels",
    "sliding_window",
    "write_arithmetic_animations",
]

#: Colours shared by all figures: inputs blue, outputs green, kernels dark, padding white.
COLORS = {
    "input": "#4c9be8",
    "input_light": "#cfe3f7",
    "output": "#3fb27f",
    "output_light": "#cdeedd",
    "kernel": "#1f3b5a",
    "padding": "#ffffff",
    "zero": "#f2f2f2",
    "accent": "#e8734c",
    "grid": "#555555",
}

#: The book's matplotlib settings, applied on import. A figure's size in the page follows
#: ``figure.dpi`` = 96, the CSS pixels per inch, so a 10-point label reads as 10-point text next
#: to the prose; in IPython the PNG holds twice those pixels (192 dpi, see
#: ``_show_figures_retina``), sharp on high-density screens.
BOOK_STYLE: dict[str, float | str | bool] = {
    "figure.dpi": 96,
    "savefig.dpi": "figure",
    "figure.facecolor": "white",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "legend.frameon": False,
    "image.cmap": "viridis",
    "animation.embed_limit": 8.0,
}
mpl.style.use(BOOK_STYLE)


def _show_figures_retina() -> None:
    """In an IPython kernel, display figures as "retina" PNGs.

    The inline backend then renders each figure at twice ``figure.dpi`` and stores its size in
    the output's metadata (``width``/``height`` = half the pixels), so the book shows it at its
    size in inches with two pixels per CSS pixel. Outside IPython nothing changes.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python without IPython: nothing is displayed inline
        return
    if get_ipython() is None:
        return
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    set_matplotlib_formats("retina")


_show_figures_retina()


def _to_numpy(name: str, values: npt.ArrayLike | torch.Tensor) -> np.ndarray:
    """Detach a tensor (any device) or convert an array-like to a float NumPy array.

    Complex values are refused (a picture of their real part would hide the imaginary one).
    """
    if isinstance(values, torch.Tensor):
        check_real(name, values)
        return values.detach().to("cpu", torch.float64).numpy()
    array = np.asarray(values)
    if not np.issubdtype(array.dtype, np.number) and array.dtype != np.bool_:
        raise TypeError(f"{name} must hold numbers, got dtype {array.dtype}")
    check_real(name, array)
    return array.astype(np.float64)


def new_figure(
    nrows: int = 1, ncols: int = 1, size: float = 3.0, *, aspect: float = 1.0,
    **kwargs: object
) -> tuple[Figure, np.ndarray]:
    """``plt.subplots`` with the book's panel size; ``axes`` is always a 2-D array."""
    nrows = check_int("nrows", nrows, minimum=1)
    ncols = check_int("ncols", ncols, minimum=1)
    size = check_number("size", size, 0.0, strict=True)
    aspect = check_number("aspect", aspect, 0.0, strict=True)
    figsize = (size * ncols, size * aspect * nrows)
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False,
                             **kwargs)  # type: ignore[call-overload]
    return fig, axes


def _bare(ax: plt.Axes) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)


def _label_color(rgba: Sequence[float] | np.ndarray) -> str:
    """Black text on light cells, white on dark ones (relative luminance below 0.45)."""
    red, green, blue = rgba[:3]
    return "white" if 0.2126 * red + 0.7152 * green + 0.0722 * blue < 0.45 else "black"


def show_grid(
    values: npt.ArrayLike | torch.Tensor,
    *,
    ax: plt.Axes | None = None,
    title: str | None = None,
    fmt: str = "{:g}",
    cmap: str = "Blues",
    annotate: bool = True,
    highlight: Sequence[tuple[int, int]] = (),
) -> Figure:
    """Draw a 1-D or 2-D array as a grid of cells, each labelled with its number.

    Parameters
    ----------
    values : array-like or Tensor, shape (W,) or (H, W)
    fmt : str
        Format of each label, e.g. ``"{:.2f}"``.
    highlight : sequence of (row, col)
        Cells outlined in the accent colour (e.g. the window under the kernel).
    """
    annotate = check_bool("annotate", annotate)
    grid = _to_numpy("values", values)
    if grid.size == 0:
        raise ValueError(f"values must not be empty, got shape {grid.shape}")
    if grid.ndim == 1:
        grid = grid[None, :]
    if grid.ndim != 2:
        raise ValueError(f"values must be 1-D or 2-D, got shape {grid.shape}")
    if ax is None:
        height, width = grid.shape
        fig, axes = new_figure(size=0.45 * max(width, 3), aspect=max(height, 1) / max(width, 3))
        ax = axes[0, 0]
    # the root figure (ax.get_figure(root=True) says it shorter, from matplotlib 3.10 only)
    owner = ax.figure
    root = owner.figure if isinstance(owner, SubFigure) else owner
    if not isinstance(root, Figure):
        raise ValueError("ax must belong to a figure")
    fig = root
    finite = grid[np.isfinite(grid)]
    span = np.abs(finite).max() if finite.size else 1.0
    shown = ax.imshow(grid, cmap=cmap, vmin=-span if finite.min(initial=0) < 0 else 0,
                      vmax=span or 1.0)
    if annotate:
        for (row, col), number in np.ndenumerate(grid):
            ax.text(col, row, fmt.format(number), ha="center", va="center", fontsize=10,
                    color=_label_color(shown.to_rgba(number)))
    for row, col in highlight:
        ax.add_patch(
            Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, ec=COLORS["accent"], lw=2.5)
        )
    # no major ticks: matplotlib drops the minor ticks (the cell borders) that coincide with
    # them, and the style's major grid would cross the cells
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xticks(np.arange(-0.5, grid.shape[1]), minor=True)
    ax.set_yticks(np.arange(-0.5, grid.shape[0]), minor=True)
    ax.grid(which="major", visible=False)
    ax.grid(which="minor", color="white", lw=1.5, alpha=1)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title)
    return fig


def show_images(
    images: Sequence[npt.ArrayLike | torch.Tensor],
    titles: Sequence[str] | None = None,
    *,
    ncols: int | None = None,
    size: float = 3.0,
    cmap: str = "gray",
    vmin: float | None = None,
    vmax: float | None = None,
    colorbar: bool = False,
) -> Figure:
    """Show several 2-D images (or (H, W, 3) colour images) side by side.

    Parameters
    ----------
    images : sequence of array-like or Tensor, each (H, W) or (H, W, 3)
    titles : sequence of str, optional
        One per image.
    ncols : int, optional
        Panels per row (all in one row by default).
    """
    colorbar = check_bool("colorbar", colorbar)
    arrays = [_to_numpy(f"images[{i}]", image) for i, image in enumerate(images)]
    for index, array in enumerate(arrays):
        if array.ndim not in (2, 3) or array.size == 0 or (array.ndim == 3
                                                           and array.shape[-1] not in (3, 4)):
            raise ValueError(f"images[{index}] must be a non-empty (H, W) or (H, W, 3) image, "
                             f"got shape {array.shape}")
    if not arrays:
        raise ValueError("images must contain at least one image, got an empty sequence")
    if titles is not None and len(titles) != len(arrays):
        raise ValueError(f"titles must have one entry per image ({len(arrays)}), got {len(titles)}")
    ncols = len(arrays) if ncols is None else check_int("ncols", ncols, minimum=1)
    nrows = -(-len(arrays) // ncols)
    fig, axes = new_figure(nrows, ncols, size=size)
    for index, ax in enumerate(axes.flat):
        _bare(ax)
        if index >= len(arrays):
            ax.set_visible(False)
            continue
        shown = ax.imshow(arrays[index], cmap=cmap, vmin=vmin, vmax=vmax)
        if titles is not None:
            ax.set_title(titles[index])
        if colorbar:
            fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return fig


def show_kernels(
    weight: npt.ArrayLike | torch.Tensor, *, max_kernels: int = 16, size: float = 1.2,
    title: str | None = None
) -> Figure:
    """Show convolution kernels as small diverging heat maps.

    Parameters
    ----------
    weight : array-like or Tensor, shape (kH, kW), (C_out, kH, kW) or (C_out, C_in, kH, kW)
        For 4-D weights, one panel per (output, input) pair, row by output channel.
    max_kernels : int
        Panels per axis are capped so large layers stay readable.
    """
    max_kernels = check_int("max_kernels", max_kernels, minimum=1)
    kernels = _to_numpy("weight", weight)
    if kernels.size == 0:
        raise ValueError(f"weight must not be empty, got shape {kernels.shape}")
    if kernels.ndim == 2:
        kernels = kernels[None, None]
    elif kernels.ndim == 3:
        kernels = kernels[:, None]
    elif kernels.ndim != 4:
        raise ValueError(f"weight must be 2-D, 3-D or 4-D, got shape {kernels.shape}")
    kernels = kernels[:max_kernels, :max_kernels]
    rows, cols = kernels.shape[:2]
    fig, axes = new_figure(rows, cols, size=size)
    span = np.abs(kernels).max() or 1.0
    for (row, col), ax in np.ndenumerate(axes):
        _bare(ax)
        ax.imshow(kernels[row, col], cmap="RdBu_r", vmin=-span, vmax=span)
    if title:
        fig.suptitle(title)
    return fig


def show_feature_maps(
    x: npt.ArrayLike | torch.Tensor, *, max_maps: int = 16, ncols: int = 8, size: float = 1.5,
    title: str | None = None
) -> Figure:
    """Show the channels of one feature map, shape (C, H, W) or (1, C, H, W)."""
    max_maps = check_int("max_maps", max_maps, minimum=1)
    ncols = check_int("ncols", ncols, minimum=1)
    maps = _to_numpy("x", x)
    if maps.ndim == 4:
        if maps.shape[0] != 1:
            raise ValueError(f"x must hold one image (N=1) when 4-D, got shape {maps.shape}")
        maps = maps[0]
    if maps.ndim != 3:
        raise ValueError(f"x must be (C, H, W) or (1, C, H, W), got shape {maps.shape}")
    maps = maps[:max_maps]
    fig = show_images(list(maps), [f"channel {c}" for c in range(len(maps))],
                      ncols=min(ncols, len(maps)), size=size, cmap="viridis")
    if title:
        fig.suptitle(title)
    return fig


@dataclass(frozen=True)
class SlidingWindow:
    """Geometry of one sliding-window picture along both axes (square sizes).

    Attributes
    ----------
    grid_size : int
        Side of the drawn input grid: the input, plus padding, plus (for transposed
        convolution) the zeros inserted between input pixels.
    is_data : ndarray of bool, shape (grid_size, grid_size)
        True where the grid holds a real input pixel, False for padding or inserted zeros.
    output_size : int
        Side of the output grid.
    taps : ndarray of int, shape (output_size**2, kernel_size**2, 2)
        For each output position (row-major), the (row, col) grid cells the kernel reads.
    """

    grid_size: int
    is_data: np.ndarray
    output_size: int
    taps: np.ndarray


def sliding_window(
    input_size: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    *,
    transposed: bool = False,
) -> SlidingWindow:
    """Compute which grid cells each output position reads, as the animations draw them.

    For ``transposed=False`` this is the direct convolution. For ``transposed=True`` it is the
    transposed convolution drawn as a direct, stride-1 convolution over the input with
    ``stride - 1`` zeros inserted between pixels and ``dilation * (kernel_size - 1) - padding``
    zeros around it, as in Dumoulin & Visin's figures.
    """
    transposed = check_bool("transposed", transposed)
    input_size = check_int("input_size", input_size, minimum=1)
    kernel_size = check_int("kernel_size", kernel_size, minimum=1)
    stride = check_int("stride", stride, minimum=1)
    padding = check_int("padding", padding, minimum=0)
    dilation = check_int("dilation", dilation, minimum=1)
    if transposed:
        border = dilation * (kernel_size - 1) - padding
        if border < 0:
            raise ValueError(
                f"padding must be at most dilation * (kernel_size - 1) = "
                f"{dilation * (kernel_size - 1)} for the transposed picture, got {padding}"
            )
        stretched = (input_size - 1) * stride + 1
        grid_size = stretched + 2 * border
        data_positions = border + stride * np.arange(input_size)
        step = 1
    else:
        grid_size = input_size + 2 * padding
        data_positions = padding + np.arange(input_size)
        step = stride
    output_size = conv_output_size(grid_size, kernel_size, step, 0, dilation)
    is_data = np.zeros((grid_size, grid_size), dtype=bool)
    is_data[np.ix_(data_positions, data_positions)] = True
    starts = step * np.arange(output_size)
    offsets = dilation * np.arange(kernel_size)
    rows = (starts[:, None, None, None] + offsets[None, None, :, None]).repeat(output_size, 1)
    cols = (starts[None, :, None, None] + offsets[None, None, None, :]).repeat(output_size, 0)
    rows, cols = np.broadcast_arrays(rows, cols)
    taps = np.stack([rows, cols], axis=-1).reshape(output_size**2, kernel_size**2, 2)
    return SlidingWindow(grid_size, is_data, output_size, taps)


def animate_sliding_window(
    input_size: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    *,
    transposed: bool = False,
    interval: int = 400,
    cell: float = 0.32,
) -> animation.FuncAnimation:
    """Animate a kernel sliding over its input (blue, below) to fill the output (green, above).

    Padding cells are white with a dashed edge, inserted zeros (transposed) light grey, the
    kernel's taps dark. Sizes are square. Convert with :func:`show_animation` for a notebook
    or :func:`animation_to_gif` for a file.
    """
    window = sliding_window(input_size, kernel_size, stride, padding, dilation,
                            transposed=transposed)
    n, m = window.grid_size, window.output_size
    gap = 1.0
    width = max(n, m)
    fig = plt.figure(figsize=(cell * width + 0.4, cell * (n + m + gap) + 0.4))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-0.2, width + 0.2)
    ax.set_ylim(-0.2, n + m + gap + 0.2)
    ax.set_aspect("equal")
    ax.axis("off")
    in_left, out_left, out_bottom = (width - n) / 2, (width - m) / 2, n + gap

    def input_patch(row: int, col: int) -> Rectangle:
        data = window.is_data[row, col]
        is_border = not data and (not transposed or _outside_data(window.is_data, row, col))
        face = COLORS["input"] if data else COLORS["padding"] if is_border else COLORS["zero"]
        return Rectangle((in_left + col, n - 1 - row), 1, 1, fc=face, ec=COLORS["grid"],
                         lw=0.6, ls="--" if not data else "-")

    for (row, col), _ in np.ndenumerate(window.is_data):
        ax.add_patch(input_patch(row, col))
    outputs = [Rectangle((out_left + c, out_bottom + m - 1 - r), 1, 1, fc=COLORS["output_light"],
                         ec=COLORS["grid"], lw=0.6) for r in range(m) for c in range(m)]
    for patch in outputs:
        ax.add_patch(patch)
    shadows = [Rectangle((0, 0), 1, 1, fc=COLORS["kernel"], alpha=0.55, ec="none")
               for _ in range(kernel_size**2)]
    for patch in shadows:
        ax.add_patch(patch)

    def draw(frame: int) -> list[Rectangle]:
        for index, patch in enumerate(outputs):
            patch.set_facecolor(COLORS["output"] if index <= frame else COLORS["output_light"])
        for patch, (row, col) in zip(shadows, window.taps[frame], strict=True):
            patch.set_xy((in_left + col, n - 1 - row))
        return [*outputs, *shadows]

    anim = animation.FuncAnimation(fig, draw, frames=len(window.taps), interval=interval,
                                   blit=False)
    plt.close(fig)
    return anim


def _outside_data(is_data: np.ndarray, row: int, col: int) -> bool:
    """True when (row, col) lies outside the bounding box of the data cells (i.e. padding)."""
    rows, cols = np.nonzero(is_data)
    return not (rows.min() <= row <= rows.max() and cols.min() <= col <= cols.max())


def animation_to_gif(anim: animation.FuncAnimation, fps: int = 3) -> bytes:
    """Render an animation to GIF bytes with Pillow (no ffmpeg needed)."""
    fps = check_int("fps", fps, minimum=1)
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "animation.gif"
        anim.save(path, writer=animation.PillowWriter(fps=fps))
        return path.read_bytes()


def show_animation(anim: animation.FuncAnimation, fps: int = 3, *, form: str = "gif") -> Image:
    """Display an animation in a notebook as a GIF image (light, and shown in the HTML book)."""
    check_one_of("form", form, ("gif",))
    from IPython.display import Image

    return Image(data=animation_to_gif(anim, fps=fps), format="gif")


class _AnimationSize(TypedDict):
    input_size: int
    kernel_size: int


class AnimationSettings(_AnimationSize, total=False):
    """Keyword arguments of :func:`animate_sliding_window` for one picture."""

    stride: int
    padding: int
    dilation: int
    transposed: bool


#: The sliding-window pictures of the landing page, in the order of Dumoulin & Visin's guide:
#: name -> keyword arguments of :func:`animate_sliding_window`.
ARITHMETIC_ANIMATIONS: dict[str, AnimationSettings] = {
    "plain": {"input_size": 4, "kernel_size": 3},
    "padded": {"input_size": 5, "kernel_size": 3, "padding": 1},
    "strided": {"input_size": 5, "kernel_size": 3, "stride": 2, "padding": 1},
    "dilated": {"input_size": 7, "kernel_size": 3, "dilation": 2},
    "transposed": {"input_size": 3, "kernel_size": 3, "stride": 2, "transposed": True},
}


def write_arithmetic_animations(folder: str | Path) -> list[Path]:
    """Write one GIF per entry of :data:`ARITHMETIC_ANIMATIONS` into ``folder``.

    The book calls this when it is built (``book/_ext/convnotes_book.py``), so the
    landing page's animations are drawn by the same code as the chapters' figures and never
    committed as binary files. Files whose bytes would not change are not rewritten.

    Returns
    -------
    list of Path
        ``folder / "<name>.gif"`` for each animation, in the table's order.
    """
    folder = Path(check_path("folder", folder))
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, settings in ARITHMETIC_ANIMATIONS.items():
        path = folder / f"{name}.gif"
        gif = animation_to_gif(animate_sliding_window(**settings))
        if not path.exists() or path.read_bytes() != gif:
            path.write_bytes(gif)
        written.append(path)
    return written


def _gif_size(data: bytes) -> tuple[int, int]:
    """(width, height) of GIF bytes, read from the header; used by tests."""
    buffer = io.BytesIO(data)
    header = buffer.read(10)
    if header[:3] != b"GIF":
        raise ValueError("data is not a GIF")
    return int.from_bytes(header[6:8], "little"), int.from_bytes(header[8:10], "little")
