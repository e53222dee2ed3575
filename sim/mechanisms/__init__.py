"""The model's behaviour: one function per mechanism, each stating its equation and source.

Every function works elementwise on floats or numpy arrays (leading axes are runs, then allies,
then categories), so the Mesa agents (one ally at a time) and array engines (many runs at once)
call the very same code. Nothing here draws random numbers: shocks come in as arguments.
"""
