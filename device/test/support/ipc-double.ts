import { greengrasscoreipc } from 'aws-iot-device-sdk-v2';
// The SDK's own request checks and wire serialization, so the double sees exactly what the SDK would send.
import * as modelUtils from 'aws-iot-device-sdk-v2/dist/greengrasscoreipc/model_utils';
import { IpcClient } from '../../src/publish';

/** A Greengrass IPC client double: validates and serializes each request as the SDK does, and records it. */
export class IpcDouble implements IpcClient {
  public readonly published: { topicName: string; qos: string; payload: Buffer; wireBytes: number }[] = [];
  public readonly states: string[] = [];

  public async publishToIoTCore(request: greengrasscoreipc.model.PublishToIoTCoreRequest): Promise<greengrasscoreipc.model.PublishToIoTCoreResponse> {
    modelUtils.validatePublishToIoTCoreRequest(request);
    const message = modelUtils.serializePublishToIoTCoreRequestToEventstreamMessage(request);
    const text = typeof message.payload === 'string' ? message.payload : Buffer.from(message.payload as ArrayBuffer).toString('utf8');
    const body = JSON.parse(text) as { topicName: string; qos: string; payload: string };
    this.published.push({ topicName: body.topicName, qos: body.qos, payload: Buffer.from(body.payload, 'base64'), wireBytes: Buffer.byteLength(text) });
    return {};
  }

  public async updateState(request: greengrasscoreipc.model.UpdateStateRequest): Promise<greengrasscoreipc.model.UpdateStateResponse> {
    modelUtils.validateUpdateStateRequest(request);
    this.states.push(request.state);
    return {};
  }

  public async close(): Promise<void> {}
}
