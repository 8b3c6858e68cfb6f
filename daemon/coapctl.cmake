# coapctl target (owned by the coapctl work)
