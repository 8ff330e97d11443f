"""Tests for convnotes.plotting: the sliding-window geometry agrees with the shape rules and
with torch's operators, animations become GIF bytes, figures come back, bad input is refused."""

from __future__ import annotations

import gc
import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.figure import Figure

from convnotes import plotting
from convnotes.arithmetic import conv_output_size, conv_transpose_output_size


@st.composite
def direct_windows(draw: st.DrawFn) -> tuple[int, int, int, int, int]:
    kernel, dilation = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    padding, stride = draw(st.integers(0, 2)), draw(st.integers(1, 3))
    size = max(draw(st.integers(1, 7)), dilation * (kernel - 1) + 1 - 2 * padding)
    return size, kernel, stride, padding, dilation


@st.composite
def transposed_windows(draw: st.DrawFn) -> tuple[int, int, int, int, int]:
    kernel, dilation = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    padding = draw(st.integers(0, dilation * (kernel - 1)))
    return draw(st.integers(1, 5)), kernel, draw(st.integers(1, 3)), padding, dilation


class TestSlidingWindowGeometry:
    @given(direct_windows())
    def test_direct_matches_conv_output_size_and_unfold(self, args):
        size, kernel, stride, padding, dilation = args
        window = plotting.sliding_window(*args)
        assert window.output_size == conv_output_size(*args)
        assert window.grid_size == size + 2 * padding
        assert window.is_data.sum() == size**2
        # the taps are the cells F.unfold reads from the padded grid, in the same order
        cells = torch.arange(float(window.grid_size**2)).reshape(1, 1, window.grid_size, -1)
        unfolded = F.unfold(cells, kernel, dilation=dilation, stride=stride)[0].T
        taps = window.taps[..., 0] * window.grid_size + window.taps[..., 1]
        np.testing.assert_array_equal(taps, unfolded.numpy().astype(int))

    @given(transposed_windows())
    def test_transposed_matches_conv_transpose(self, args):
        size, kernel, stride, padding, dilation = args
        try:
            out = conv_transpose_output_size(size, kernel, stride, padding, 0, dilation)
        except ValueError:  # torch refuses it too (output size < 1): so must the picture
            with pytest.raises(ValueError, match="larger than the padded input"):
                plotting.sliding_window(*args, transposed=True)
            return
        window = plotting.sliding_window(*args, transposed=True)
        assert window.output_size == out
        # the picture is the computation: a stride-1 correlation over the drawn grid with the
        # flipped kernel equals F.conv_transpose2d
        rng = np.random.default_rng(size * 100 + kernel)
        x = torch.tensor(rng.standard_normal((size, size)))
        w = torch.tensor(rng.standard_normal((kernel, kernel)))
        grid = torch.zeros(window.grid_size, window.grid_size, dtype=torch.float64)
        grid[torch.from_numpy(window.is_data)] = x.flatten()
        picture = F.conv2d(grid[None, None], w.flip(0, 1)[None, None], dilation=dilation)
        expected = F.conv_transpose2d(x[None, None], w[None, None], stride=stride,
                                      padding=padding, dilation=dilation)
        torch.testing.assert_close(picture, expected)

    def test_bad_input(self):
        with pytest.raises(ValueError, match="stride must be >= 1, got 0"):
            plotting.sliding_window(5, 3, stride=0)
        with pytest.raises(ValueError, match=r"kernel_size=5 .* larger than the padded input"):
            plotting.sliding_window(3, 5)
        with pytest.raises(ValueError, match="padding must be at most dilation"):
            plotting.sliding_window(3, 3, padding=3, transposed=True)


@pytest.mark.filterwarnings("ignore:Animation was deleted without rendering")
class TestAnimation:
    def test_gif_bytes_of_the_right_frame_count(self):
        anim = plotting.animate_sliding_window(4, 3, stride=1, padding=1)
        data = plotting.animation_to_gif(anim, fps=4)
        assert data[:6] in (b"GIF87a", b"GIF89a")
        width, height = plotting._gif_size(data)
        assert width > 0 and height > 0
        from PIL import Image

        with Image.open(__import__("io").BytesIO(data)) as image:
            assert image.n_frames == conv_output_size(4, 3, padding=1) ** 2

    def test_show_animation_returns_an_image(self):
        shown = plotting.show_animation(plotting.animate_sliding_window(3, 2, transposed=True))
        assert shown.format == "gif"
        assert shown.data[:3] == b"GIF"

    def test_landing_page_animations_are_written_once_per_entry(self, tmp_path, monkeypatch):
        from PIL import Image

        paths = plotting.write_arithmetic_animations(tmp_path / "gallery")
        assert [p.stem for p in paths] == list(plotting.ARITHMETIC_ANIMATIONS)
        for path in paths:
            settings = plotting.ARITHMETIC_ANIMATIONS[path.stem]
            window = plotting.sliding_window(**settings)
            with Image.open(path) as image:
                assert image.n_frames == window.output_size**2
        # a second pass renders again and compares bytes: two entries show that a file whose
        # bytes are unchanged is left alone (rendering every entry twice doubles the time)
        first, second = list(plotting.ARITHMETIC_ANIMATIONS.items())[:2]
        monkeypatch.setattr(plotting, "ARITHMETIC_ANIMATIONS", dict([first, second]))
        stamps = [p.stat().st_mtime_ns for p in paths]
        again = plotting.write_arithmetic_animations(tmp_path / "gallery")
        assert again == paths[:2]
        assert [p.stat().st_mtime_ns for p in paths] == stamps

    def test_bad_input(self):
        anim = plotting.animate_sliding_window(3, 2)
        with pytest.raises(ValueError, match="form must be one of"):
            plotting.show_animation(anim, form="mp4")
        with pytest.raises(ValueError, match="fps must be >= 1"):
            plotting.animation_to_gif(anim, fps=0)
        # both calls refused it, so it was never drawn: matplotlib warns when such an
        # animation is garbage-collected, which would otherwise happen at some later moment
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Animation was deleted", UserWarning)
            del anim
            gc.collect()
        with pytest.raises(ValueError, match="data is not a GIF"):
            plotting._gif_size(b"\x89PNG\r\n\x1a\n")


@pytest.mark.filterwarnings("ignore:Animation was deleted without rendering")
class TestFigures:
    def test_show_grid(self):
        fig = plotting.show_grid(np.arange(6).reshape(2, 3), title="x", highlight=[(0, 1)])
        assert isinstance(fig, Figure)
        assert len(fig.axes[0].texts) == 6
        assert isinstance(plotting.show_grid(torch.arange(4.0)), Figure)

    def test_show_grid_labels_stay_readable_on_dark_cells(self):
        fig = plotting.show_grid(np.arange(9.0).reshape(3, 3), cmap="Blues")
        colors = [text.get_color() for text in fig.axes[0].texts]
        assert colors[0] == "black" and colors[-1] == "white"  # lightest and darkest cells

    def test_show_images_kernels_feature_maps(self):
        assert isinstance(plotting.show_images([np.zeros((4, 4)), torch.ones(4, 4)], ["a", "b"],
                                               ncols=1), Figure)
        fig = plotting.show_kernels(torch.randn(3, 2, 3, 3))
        assert len(fig.axes) == 6
        assert isinstance(plotting.show_feature_maps(torch.randn(1, 3, 5, 5)), Figure)
        fig, axes = plotting.new_figure(2, 3)
        assert axes.shape == (2, 3)

    def test_bad_input(self):
        with pytest.raises(ValueError, match=r"values must be 1-D or 2-D, got shape \(2, 2, 2\)"):
            plotting.show_grid(np.zeros((2, 2, 2)))
        with pytest.raises(TypeError, match="values must hold numbers"):
            plotting.show_grid(np.array(["a", "b"]))
        with pytest.raises(ValueError, match="images must contain at least one image"):
            plotting.show_images([])
        with pytest.raises(ValueError, match="titles must have one entry per image"):
            plotting.show_images([np.zeros((2, 2))], ["a", "b"])
        with pytest.raises(ValueError, match="weight must be 2-D, 3-D or 4-D"):
            plotting.show_kernels(np.zeros(3))
        with pytest.raises(ValueError, match="x must hold one image"):
            plotting.show_feature_maps(np.zeros((2, 3, 4, 4)))
        with pytest.raises(ValueError, match="nrows must be >= 1"):
            plotting.new_figure(0, 1)

    def teardown_method(self):
        import matplotlib.pyplot as plt

        plt.close("all")


# ---------------------------------------------------------------- issue 17: bad input


def test_flags_counts_and_complex_values_are_refused():
    with pytest.raises(TypeError, match=r"transposed must be a bool, got 'False'"):
        plotting.sliding_window(3, 3, transposed="False")
    with pytest.raises(ValueError, match=r"max_kernels must be >= 1, got -1"):
        plotting.show_kernels(np.ones((2, 2, 3, 3)), max_kernels=-1)
    with pytest.raises(TypeError, match=r"values must be real, got complex"):
        plotting.show_grid(np.ones((2, 2)) * 1j)
    with pytest.raises(TypeError, match=r"images\[0\] must be real"):
        plotting.show_images([torch.ones(2, 2, dtype=torch.complex64)])
    with pytest.raises(ValueError, match=r"values must not be empty"):
        plotting.show_grid(np.ones((0, 3)))


@pytest.mark.parametrize(("folder", "error"), [(3, TypeError), (None, TypeError), ("", ValueError)])
def test_write_arithmetic_animations_refuses_what_is_not_a_folder(folder, error):
    with pytest.raises(error, match="folder"):
        plotting.write_arithmetic_animations(folder)
