/** API errors carry an HTTP status and a stable code; one handler turns them into responses. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const notFound = (what: string, id: string) =>
  new ApiError(404, "not_found", `${what} ${id} not found`);
export const badRequest = (message: string) => new ApiError(400, "bad_request", message);
export const unauthorized = () =>
  new ApiError(401, "unauthorized", "missing or invalid API key (send x-api-key or Authorization: Bearer)");
