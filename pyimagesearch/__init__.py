"""Support code for the reproduction of PyImageSearch's "Why is my validation loss lower than my training loss?".

The post's network lives in `minivggnet`; everything else here is what the two scripts need on today's Keras and
what we add beyond the post, one idea a module.
"""
