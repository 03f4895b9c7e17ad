"""Numbers from the FGRN paper (../shared/seeds/fgrn-paper.txt), for side-by-side tables.

Keys: set name -> (PSNR, SSIM) for Tables 1, 3, 4; (NIQE, PIQE) for Table 2. The paper
evaluates on full-resolution Urban100; ours is half resolution (not comparable).
"""

SETS = ("Set5", "Set14", "BSD100", "Urban100")


def _rows(*values):
    return dict(zip(SETS, values, strict=True))


TABLE1 = {  # reconstruction, PSNR / SSIM (Y)
    ("bicubic", 2): _rows((33.66, 0.9299), (30.24, 0.8688), (29.56, 0.8431), (26.88, 0.8403)),
    ("irn", 2): _rows((43.99, 0.9871), (40.79, 0.9778), (41.32, 0.9876), (39.92, 0.9865)),
    ("fgrn", 2): _rows((44.15, 0.9902), (42.28, 0.9840), (41.87, 0.9887), (41.71, 0.9904)),
    ("bicubic", 4): _rows((28.42, 0.8104), (26.00, 0.7027), (25.96, 0.6675), (23.14, 0.6577)),
    ("irn", 4): _rows((36.19, 0.9451), (32.67, 0.9015), (31.64, 0.8826), (31.41, 0.9157)),
    ("fgrn", 4): _rows((36.97, 0.9505), (33.77, 0.9168), (31.83, 0.8907), (31.91, 0.9253)),
}

TABLE2 = {  # downscaled LR, NIQE / PIQE
    ("bicubic", 2): _rows((16.027, 38.561), (8.519, 39.802), (5.282, 32.494), (5.708, 42.788)),
    ("irn", 2): _rows((16.017, 34.623), (8.558, 37.001), (5.818, 30.046), (6.143, 38.161)),
    ("fgrn", 2): _rows((16.166, 30.124), (8.621, 32.982), (5.568, 27.183), (5.995, 35.051)),
    ("bicubic", 4): _rows((18.876, 51.101), (17.932, 45.335), (18.878, 41.527), (17.378, 46.609)),
    ("irn", 4): _rows((18.876, 45.112), (17.909, 40.213), (18.879, 35.713), (17.755, 39.769)),
    ("fgrn", 4): _rows((18.876, 40.627), (17.952, 35.464), (18.878, 34.282), (17.132, 36.991)),
}

TABLE3 = {  # x4 reconstruction with different downscaling guidance
    "DU_none": _rows((36.91, 0.9538), (33.79, 0.9215), (32.41, 0.9045), (32.07, 0.9307)),
    "DU_bic": _rows((34.31, 0.9258), (30.95, 0.8645), (29.99, 0.8365), (29.38, 0.8823)),
    "DU_flow": _rows((36.97, 0.9505), (33.77, 0.9168), (31.83, 0.8907), (31.91, 0.9253)),
}

TABLE4 = {  # IRN x4 trained/tested with Gaussian z or with z = 0
    "z": _rows((36.19, 0.9451), (32.67, 0.9015), (31.64, 0.8826), (31.41, 0.9157)),
    "z0": _rows((36.21, 0.9455), (32.70, 0.9013), (31.62, 0.8820), (31.36, 0.9147)),
}

#: Figure 7 (gamma sweep at x4): the paper reports gamma = 1e-3 as the best setting.
GAMMAS = (0.0, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
