// Serves the engine test double in place of the wasm package (SHUFFLENET_MOCK_ENGINE=1 only).
import { readFileSync } from 'node:fs';

const body = readFileSync(new URL('./mock-engine.js', import.meta.url));

export async function routeMockEngine(context) {
  await context.route('**/pkg/shufflenet_web.js', (route) =>
    route.fulfill({ status: 200, contentType: 'text/javascript', body }),
  );
}
