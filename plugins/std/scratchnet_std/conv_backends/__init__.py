"""Convolution backends: ``fft`` (frequency domain), ``direct`` (im2col + GEMM), ``auto``."""
