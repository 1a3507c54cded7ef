// gateways/s3/errors.cpp — see errors.h.
#include "gateways/s3/errors.h"

#include <pugixml.hpp>
#include <sstream>

#include "gateways/s3/xml.h"

namespace cairn::s3 {

const error_info& info(s3_error e) {
  // Codes, statuses and messages as the S3 API reference lists them.
  static const error_info table[] = {
      {"AccessDenied", 403, "Access Denied"},
      {"BadDigest", 400, "The Content-MD5 you specified did not match what we received."},
      {"BucketAlreadyExists", 409,
       "The requested bucket name is not available. The bucket namespace is shared by all "
       "users of the system. Please select a different name and try again."},
      {"BucketAlreadyOwnedByYou", 409,
       "Your previous request to create the named bucket succeeded and you already own it."},
      {"BucketNotEmpty", 409, "The bucket you tried to delete is not empty"},
      {"EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed object size."},
      {"EntityTooSmall", 400,
       "Your proposed upload is smaller than the minimum allowed object size."},
      {"IncompleteBody", 400,
       "You did not provide the number of bytes specified by the Content-Length HTTP header"},
      {"InternalError", 500, "We encountered an internal error. Please try again."},
      {"InvalidAccessKeyId", 403,
       "The AWS Access Key Id you provided does not exist in our records."},
      {"InvalidArgument", 400, "Invalid Argument"},
      {"InvalidBucketName", 400, "The specified bucket is not valid."},
      {"InvalidDigest", 400, "The Content-MD5 you specified is not valid."},
      {"InvalidPart", 400,
       "One or more of the specified parts could not be found. The part may not have been "
       "uploaded, or the specified entity tag may not match the part's entity tag."},
      {"InvalidPartOrder", 400,
       "The list of parts was not in ascending order. The parts list must be specified in "
       "order by part number."},
      {"InvalidRange", 416, "The requested range is not satisfiable"},
      {"InvalidRequest", 400, "Invalid Request"},
      {"KeyTooLongError", 400, "Your key is too long"},
      {"MalformedXML", 400,
       "The XML you provided was not well-formed or did not validate against our published "
       "schema."},
      {"MethodNotAllowed", 405, "The specified method is not allowed against this resource."},
      {"MissingContentLength", 411, "You must provide the Content-Length HTTP header."},
      {"NoSuchBucket", 404, "The specified bucket does not exist"},
      {"NoSuchKey", 404, "The specified key does not exist."},
      {"NoSuchUpload", 404,
       "The specified upload does not exist. The upload ID may be invalid, or the upload may "
       "have been aborted or completed."},
      {"NotImplemented", 501,
       "A header you provided implies functionality that is not implemented"},
      {"ObjectPathConflict", 409,
       "The key would be a file and a directory at once: an object exists where the key needs "
       "a directory, or keys exist under the key (see cairn's ADR 0005)."},
      {"PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold"},
      {"RequestTimeTooSkewed", 403,
       "The difference between the request time and the current time is too large."},
      {"ServiceUnavailable", 503, "Please reduce your request rate."},
      {"SignatureDoesNotMatch", 403,
       "The request signature we calculated does not match the signature you provided. Check "
       "your key and signing method."},
      {"SlowDown", 503, "Please reduce your request rate."},
      {"AuthorizationHeaderMalformed", 400, "The authorization header is malformed"},
      {"AuthorizationQueryParametersError", 400,
       "Error parsing the X-Amz-Credential parameter or another query authentication "
       "parameter."},
      {"IncompleteSignature", 400, "The request signature does not conform to AWS standards."},
      {"InvalidURI", 400, "Couldn't parse the specified URI."},
      {"XAmzContentSHA256Mismatch", 400,
       "The provided 'x-amz-content-sha256' header does not match what was computed."},
      {"MalformedTrailerError", 400,
       "The request contained trailing data that was not well-formed or did not conform to "
       "our published schema."},
      {"InvalidChunkSizeError", 403,
       "Only the last chunk is allowed to have a size less than 8192 bytes"},
      {"NotModified", 304, "Not Modified"},
      {"NoSuchVersion", 404,
       "The version ID specified in the request does not match an existing version."},
  };
  static_assert(sizeof(table) / sizeof(table[0]) ==
                static_cast<std::size_t>(s3_error::no_such_version) + 1);
  return table[static_cast<std::size_t>(e)];
}

std::string error_document(s3_error e, std::string_view message, std::string_view resource,
                           std::string_view request_id) {
  const auto& i = info(e);
  return error_document(i.code, message.empty() ? i.message : message, resource, request_id);
}

std::string error_document(std::string_view code, std::string_view message,
                           std::string_view resource, std::string_view request_id) {
  pugi::xml_document doc;
  auto decl = doc.append_child(pugi::node_declaration);
  decl.append_attribute("version") = "1.0";
  decl.append_attribute("encoding") = "UTF-8";
  auto err = doc.append_child("Error");
  add_text(err, "Code", code);
  add_text(err, "Message", message);
  add_text(err, "Resource", resource);
  add_text(err, "RequestId", request_id);
  return to_string(doc);
}

}  // namespace cairn::s3
