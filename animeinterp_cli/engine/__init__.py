"""The engine: owns the model, the device and the dtype; turns planned pairs into frames."""
