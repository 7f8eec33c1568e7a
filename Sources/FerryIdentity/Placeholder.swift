// The identity module: CA, SPIFFE certificates and rotation (see issue 3).
