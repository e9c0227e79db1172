import AutoscalerCore
import Crypto

/// AWS Signature Version 4, as a pure function: request, credentials, region, service and time
/// in; the headers to add out. No clock, no I/O.
public enum SigV4Signer {
    /// Headers a signed request carries in addition to its own.
    public struct Signature: Sendable, Equatable {
        /// `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
        public var authorization: String
        /// `X-Amz-Date`, `yyyyMMdd'T'HHmmss'Z'`.
        public var amzDate: String
        /// `X-Amz-Security-Token`, for temporary credentials.
        public var securityToken: String?

        /// The headers to add, in a fixed order.
        public var headers: [(name: String, value: String)] {
            var result = [("X-Amz-Date", amzDate)]
            if let securityToken { result.append(("X-Amz-Security-Token", securityToken)) }
            result.append(("Authorization", authorization))
            return result
        }
    }

    /// Headers a proxy or client may change on the way; signing them would break the signature.
    static let unsignedHeaders: Set<String> = [
        "authorization", "connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization",
        "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id",
    ]

    /// Signs `request` for `service` in `region` at `date`.
    public static func sign(
        _ request: SigV4Request, credentials: AWSCredentials, region: String, service: String, date: Instant
    ) -> Signature {
        let amzDate = timestamp(date)
        let day = String(amzDate.prefix(8))
        var headers = request.headers.map { (name: $0.name.lowercased(), value: $0.value) }
        headers.append(("x-amz-date", amzDate))
        if let token = credentials.sessionToken { headers.append(("x-amz-security-token", token)) }
        if !headers.contains(where: { $0.name == "host" }) { headers.append(("host", request.hostHeader)) }
        headers.removeAll { unsignedHeaders.contains($0.name) }

        var grouped: [String: [String]] = [:]
        for header in headers { grouped[header.name, default: []].append(trimmed(header.value)) }
        let names = grouped.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let canonicalHeaders = names.map { "\($0):\(grouped[$0]!.joined(separator: ","))\n" }.joined()
        let signedHeaders = names.joined(separator: ";")

        let canonicalRequest = [
            request.method.uppercased(), request.encodedPath, request.encodedQuery, canonicalHeaders,
            signedHeaders, hex(SHA256.hash(data: request.body)),
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = "AWS4-HMAC-SHA256\n\(amzDate)\n\(scope)\n\(hex(SHA256.hash(data: Array(canonicalRequest.utf8))))"

        var key = SymmetricKey(data: Array("AWS4\(credentials.secretAccessKey)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key))
        }
        let signature = hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key))
        return Signature(
            authorization: "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)",
            amzDate: amzDate, securityToken: credentials.sessionToken)
    }

    /// `yyyyMMdd'T'HHmmss'Z'` in UTC.
    static func timestamp(_ date: Instant) -> String {
        let civil = CivilTime(Instant(secondsSinceEpoch: date.secondsSinceEpoch.rounded(.down)))
        return "\(civil.year.zeroPadded(to: 4))\(civil.month.zeroPadded(to: 2))\(civil.day.zeroPadded(to: 2))T"
            + "\(civil.hour.zeroPadded(to: 2))\(civil.minute.zeroPadded(to: 2))\(Int(civil.second).zeroPadded(to: 2))Z"
    }

    /// Leading and trailing whitespace removed, runs of whitespace inside folded to one space.
    static func trimmed(_ value: String) -> String {
        value.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var result = [UInt8]()
        for byte in digest {
            result.append(digits[Int(byte >> 4)])
            result.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: result, as: UTF8.self)
    }
}
