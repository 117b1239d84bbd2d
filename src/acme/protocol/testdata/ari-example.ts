/**
 * Test fixture: a leaf certificate built with openssl to match RFC 9773 §4.1's example, i.e. AKI
 * keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4 and serial 0x87654321
 * (DER INTEGER content 00:87:65:43:21), SAN DNS:ari.example, DNS:www.ari.example, IP:192.0.2.1,
 * IP:2001:db8::1, issuer "O=certpilot tests, CN=ARI Example CA", valid 2026-11-28T03:31:42Z to
 * 2036-11-25T03:31:42Z.
 */

/** The RFC 9773 example certificate as PEM. */
export const ARI_EXAMPLE_CERT_PEM = `-----BEGIN CERTIFICATE-----
MIIBwTCCAWegAwIBAgIFAIdlQyEwCgYIKoZIzj0EAwIwMzEYMBYGA1UECgwPY2Vy
dHBpbG90IHRlc3RzMRcwFQYDVQQDDA5BUkkgRXhhbXBsZSBDQTAeFw0yNjExMjgw
MzMxNDJaFw0zNjExMjUwMzMxNDJaMBYxFDASBgNVBAMMC2FyaS5leGFtcGxlMFkw
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEQC9dwlOBkcX1IQEyRIxxW6Apqz1CHHNo
X+51jjsWG5xfvuMQQ/r7y6CaKCFxktpe+LKsmkscFLgsYg4p5VnK6qOBhDCBgTAf
BgNVHSMEGDAWgBRpiFtrh0ZAQeGze4R7oK4s3gHI1DA/BgNVHREEODA2ggthcmku
ZXhhbXBsZYIPd3d3LmFyaS5leGFtcGxlhwTAAAIBhxAgAQ24AAAAAAAAAAAAAAAB
MB0GA1UdDgQWBBQcH9wtEypvv6huTKuqPL0D+JQvJzAKBggqhkjOPQQDAgNIADBF
AiEAvYpyVd9WfIEftEROkoHE+wVJpEDtOhli7CMsL4d++uMCIDEgB0Gwuzr5NMec
Drm1qs5R1eqhCVG0dwMQfRu/tHhD
-----END CERTIFICATE-----
`;

/** Its ARI certificate id, as RFC 9773 §4.1 gives it. */
export const ARI_EXAMPLE_CERT_ID = 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE';
