"""Float32 copies of nets trained in mixed precision.

A checkpoint written during mixed-precision training computes in bf16, which the package's
oneDNN cap cannot run on CPU; its variables are float32 already, so a float32 clone of the graph
with the same weights gives the shipped, float32 model.
"""

from __future__ import annotations


def float32_layer(layer, name: str | None = None):
    """A new, unbuilt layer of ``layer``'s class and config under the float32 policy (renamed to
    ``name`` if given). Layers it builds inside itself (BAM's gates) take the global policy:
    set it to float32 around the call that builds it."""
    config = layer.get_config()
    if name is not None:
        config["name"] = name
    if "dtype" in config:
        config["dtype"] = "float32"
    return layer.__class__.from_config(config)


def float32_clone(model):
    """A new model of the same graph with every layer under the float32 policy and no weights
    set (copy them with ``set_weights``)."""
    import keras

    # layers built inside a layer (BAM's gates) take the global policy, not their parent's
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        return keras.models.clone_model(model, clone_function=float32_layer)
    finally:
        keras.mixed_precision.set_global_policy(previous)
