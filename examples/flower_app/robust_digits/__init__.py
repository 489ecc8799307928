"""robust-digits: federated digits on Flower with a robust strategy, under attack."""
