// The JSON API. Every error (400 bad parameter, 401, 409 stale cursor, 503 no log dir)
// comes back as {"error": "..."} and is thrown as an ApiError the page shows.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function getJson(path, params) {
  let response;
  try {
    response = await fetch(`${path}?${params}`, { credentials: "same-origin", headers: { Accept: "application/json" } });
  } catch (err) {
    throw new ApiError(0, "The server cannot be reached (is cellsrun web running?)");
  }
  let body = null;
  try {
    body = await response.json();
  } catch (err) {
    body = null;
  }
  if (!response.ok) {
    const message = body && typeof body.error === "string" ? body.error : `HTTP ${response.status}`;
    throw new ApiError(response.status, message);
  }
  return body;
}
