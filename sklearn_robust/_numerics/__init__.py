"""Private array-in/array-out kernels: no validation, explicit generators."""
