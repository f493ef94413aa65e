"""Text similarity for dedupe: MinHash signatures and LSH bands (near duplicates), story features (same event)."""
