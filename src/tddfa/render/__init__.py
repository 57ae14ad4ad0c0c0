"""Rendering: a numba z-buffer rasterizer, shading, depth / PNCC / UV-texture maps and 2D overlays."""
from .maps import depth_map, depth_to_uint16, pncc_code, render_depth, render_pncc, render_shaded, uv_texture
from .rasterize import rasterize, rasterize_box, warmup
from .shading import lambert, lambert_shade, vertex_normals

__all__ = ["rasterize", "rasterize_box", "warmup", "vertex_normals", "lambert", "lambert_shade", "pncc_code",
           "render_shaded", "render_pncc", "render_depth", "depth_map", "depth_to_uint16", "uv_texture"]
