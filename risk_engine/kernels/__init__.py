"""Pure numeric kernels: arrays in, arrays out. No database, no settings, no logging."""
